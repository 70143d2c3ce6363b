"""The end-to-end walk's own data and its clock moves; the steps themselves are the shared ones
of ``scripts/demo/api.py`` (``make demo`` seeds with the same)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any, Protocol

import httpx
from stdnum.cn import uscc as stdnum_uscc

from scripts.demo.api import (
    activate,
    bearer,
    decide,
    expert,
    notice_about,
    ok,
    plan_state,
    run,
    titles_of,
    wait_for,
)
from scripts.demo.api import evaluation_body as apply_and_approve
from scripts.demo.api import reviewed_plan as draft_submit_review

REGULATOR = bearer("regulator", sub="regulator:e2e")
_serial = itertools.count(1)
# Thermal efficiency (%, higher is better) and standby power (W, lower is better).
COOKERS = [(95.0, 0.5), (93.0, 0.6), (91.0, 0.8), (90.0, 1.0), (88.0, 1.2), (86.0, 1.5)]


def new_uscc(region: str = "120116") -> str:
    body = f"91{region}MC{next(_serial) + 7000:07d}"
    return body + stdnum_uscc.calc_check_digit(body)


def disclose(registry: httpx.Client) -> list[dict[str, Any]]:
    """Enterprises of several districts each declare one rice cooker standard."""
    out = []
    for i, (efficiency, standby) in enumerate(COOKERS):
        uscc = new_uscc(("120116", "120104", "120110", "120111")[i % 4])
        own = bearer("enterprise", org=uscc, sub=f"enterprise:{uscc}")
        ok(
            registry.post(
                "/v1/enterprises",
                json={"uscc": uscc, "name": f"天津市第{i + 1}电器有限公司", "region": uscc[2:8]},
                headers=own,
            )
        )
        standard = ok(
            registry.post(
                "/v1/standards",
                json={
                    "uscc": uscc,
                    "standard_no": f"Q/12E2E {i + 1:04d}-2025",
                    "name": "智能电饭锅企业标准",
                    "subject": "product",
                    "category": "HA-RICE-COOKER",
                    "publication_date": "2025-03-01",
                    "implementation_date": "2025-04-01",
                    "products": [{"name": f"第{i + 1}牌电饭锅", "generic_name": "电饭锅"}],
                    "indicators": [
                        {"code": "thermal_efficiency", "operator": "≥", "value": efficiency},
                        {"code": "standby_power", "operator": "≤", "value": standby},
                    ],
                    "full_text_public": True,
                    "self_commitment": True,
                },
                headers=own,
            )
        )
        out.append(
            {
                "uscc": uscc,
                "id": standard["id"],
                "standard_no": standard["standard_no"],
                "headers": own,
            }
        )
    return out


def key_area(ranking: httpx.Client) -> str:
    """The municipal key area of rice cookers (a regulator's); its id."""
    area = {
        "year": 2026,
        "level": "municipal",
        "name": "家用电器",
        "categories": ["HA-RICE-COOKER"],
    }
    return str(ok(ranking.post("/v1/key-areas", json=area, headers=REGULATOR))["id"])


def evaluation_body(ranking: httpx.Client, area: str) -> tuple[str, dict[str, str]]:
    return apply_and_approve(
        ranking,
        name="天津市标准化研究院",
        uscc=new_uscc(),
        areas=[area],
        contact={"person": "李工", "phone": "022-23456789"},
        applicant=bearer("enterprise", org=new_uscc(), sub="applicant:e2e"),
    )


PLAN = {
    "name": "电饭锅企业标准领跑者评估方案",
    "categories": ["HA-RICE-COOKER"],
    "indicators": [
        {
            "code": "thermal_efficiency",
            "unit": "%",
            "baseline": 80,
            "benchmark": 96,
            "weight": 1,
            "tiering": {"quantiles": 3},
        },
        {
            "code": "standby_power",
            "unit": "W",
            "baseline": 2.0,
            "benchmark": 0.5,
            "weight": 1,
            "tiering": {"quantiles": 3},
        },
    ],
    "method": "composite",
    "selection": {"rule": "top_n", "n": 3},
    "cycle": {"valid_from": "2026-06-01", "valid_to": "2027-05-31"},
    "publicity_days": 5,
}


def reviewed_plan(ranking: httpx.Client, area: str, own: dict[str, str]) -> str:
    reviewers = [
        expert(ranking, f"expert:e2e:{next(_serial)}", f"专家{n}", "天津大学") for n in range(3)
    ]
    return draft_submit_review(ranking, area, PLAN, own, reviewers)


class Restarts(Protocol):
    """What holds the services of a walk: the harness's processes, or the stack's replicas."""

    def restart(self, name: str, /, **settings: str) -> None: ...


# The clocks' current offset, for a service started again later in the walk.
OFFSET = {"days": 0}


def move_clocks(services: Restarts, past: date) -> int:
    """Restart ranking and oversight with their clocks on the day after ``past`` (or further
    on, never back); the offset in days, to keep for later steps."""
    offset = max(OFFSET["days"], (past - datetime.now(UTC).date()).days + 2)
    # Both move together: ranking asks oversight for the exclusions in force on its own date.
    # Oversight first, so that a notice ranking sends once moved opens its window on the new
    # date, as it would have then.
    for name in ("oversight", "ranking"):
        services.restart(name, FORERUNNER_CLOCK_OFFSET_DAYS=str(offset))
    OFFSET["days"] = offset
    return offset


def close_window(services: Restarts, notice: dict[str, Any]) -> int:
    """Move the clocks past the day the notice's window closes (oversight's background step
    then reports the window)."""
    return move_clocks(services, date.fromisoformat(notice["window"]["closes"]))


def shortlist(ranking: httpx.Client, run_id: str, own: dict[str, str]) -> dict[str, Any]:
    return dict(ok(ranking.post(f"/v1/runs/{run_id}/shortlist", headers=own)))


def commit(ranking: httpx.Client, entry_id: str, own: dict[str, str]) -> None:
    ok(
        ranking.post(
            f"/v1/shortlist-entries/{entry_id}/commitment",
            json={"text": "本企业承诺产品持续符合所声明的企业标准。", "agreed": True},
            headers=own,
        )
    )


def file_complaint(oversight: httpx.Client, target: dict[str, str], **filed: str) -> str:
    """An anonymous complaint or report (kind, grounds, description); the id of its case."""
    complaint = ok(oversight.post("/v1/complaints", json={"target": target, **filed}))
    progress = oversight.get(
        f"/v1/complaints/{complaint['tracking_no']}",
        headers={"X-Access-Code": complaint["access_code"]},
    )
    return str(ok(progress)["progress"]["case_id"])


def title_when(ranking: httpx.Client, title_id: str, status: str) -> dict[str, Any]:
    """The title once it has this status (waits for the background work that moves it)."""

    def moved() -> dict[str, Any] | None:
        title = ok(ranking.get(f"/v1/titles/{title_id}"))
        return dict(title) if title["status"] == status else None

    return dict(wait_for(moved, timeout=60))


def withdraw(registry: httpx.Client, standard: dict[str, Any], reason: str) -> None:
    current = registry.get(f"/v1/standards/{standard['id']}")
    ok(
        registry.post(
            f"/v1/standards/{standard['id']}/withdrawal",
            json={"reason": reason},
            headers={**standard["headers"], "If-Match": current.headers["ETag"]},
        )
    )


__all__ = [
    "activate",
    "decide",
    "notice_about",
    "ok",
    "plan_state",
    "run",
    "titles_of",
    "wait_for",
]
