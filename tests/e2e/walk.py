"""Steps of the cycle over the public APIs of the three live services (sync httpx)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any, Protocol

import httpx
from stdnum.cn import uscc as stdnum_uscc

from tests.e2e.harness import bearer, wait_for

REGULATOR = bearer("regulator", sub="regulator:e2e")
_serial = itertools.count(1)
# Thermal efficiency (%, higher is better) and standby power (W, lower is better).
COOKERS = [(95.0, 0.5), (93.0, 0.6), (91.0, 0.8), (90.0, 1.0), (88.0, 1.2), (86.0, 1.5)]


def new_uscc(region: str = "120116") -> str:
    body = f"91{region}MC{next(_serial) + 7000:07d}"
    return body + stdnum_uscc.calc_check_digit(body)


def ok(response: httpx.Response, *statuses: int) -> Any:
    assert response.status_code in (statuses or (200, 201)), (
        f"{response.request.method} {response.request.url}: {response.status_code} "
        f"{response.text[:500]}"
    )
    return response.json() if response.content else None


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


def evaluation_body(ranking: httpx.Client, area: str) -> tuple[str, dict[str, str]]:
    applied = ok(
        ranking.post(
            "/v1/evaluators",
            json={
                "name": "天津市标准化研究院",
                "uscc": new_uscc(),
                "contact": {"person": "李工", "phone": "022-23456789"},
                "key_areas": [area],
            },
            headers=bearer("enterprise", org=new_uscc(), sub="applicant:e2e"),
        )
    )
    body_id = applied["id"]
    ok(
        ranking.post(
            f"/v1/evaluators/{body_id}/approval",
            json={"decision": "approved"},
            headers=REGULATOR,
        )
    )
    return body_id, bearer("evaluator", org=body_id, sub=f"evaluator:{body_id}")


def reviewed_plan(ranking: httpx.Client, area: str, own: dict[str, str]) -> str:
    plan = ok(
        ranking.post(
            "/v1/plans",
            json={
                "key_area_id": area,
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
            },
            headers=own,
        )
    )
    plan_id = plan["id"]
    current = ranking.get(f"/v1/plans/{plan_id}", headers=own)
    ok(
        ranking.post(
            f"/v1/plans/{plan_id}/submission",
            headers={**own, "If-Match": current.headers["ETag"]},
        )
    )
    for n in range(3):
        subject = f"expert:e2e:{next(_serial)}"
        ok(
            ranking.post(
                "/v1/experts",
                json={"subject": subject, "name": f"专家{n}", "affiliation": "天津大学"},
                headers=REGULATOR,
            )
        )
        ok(
            ranking.post(
                f"/v1/plans/{plan_id}/reviews",
                json={"verdict": "approve", "comments": "指标设置合理"},
                headers=bearer("expert", sub=subject),
            )
        )
    return str(plan_id)


def notice_about(oversight: httpx.Client, kind: str, subject_id: str) -> dict[str, Any] | None:
    page = ok(oversight.get("/v1/notices", params={"limit": 200}))
    for notice in page["items"]:
        if notice["kind"] == kind and (notice.get("subject") or {}).get("id") == subject_id:
            return dict(notice)
    return None


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


def titles_of(ranking: httpx.Client, holders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The active titles of these enterprises, once each has one (else an empty list)."""
    found = []
    for holder in holders:
        items = ok(ranking.get("/v1/forerunners", params={"uscc": holder["uscc"]}))["items"]
        if not items:
            return []
        found.append(items[0])
    return found


def decide(oversight: httpx.Client, case_id: str, outcome: str, reason: str) -> None:
    url = f"/v1/cases/{case_id}"
    for step in (
        {"action": "accept"},
        {"action": "investigate"},
        {"action": "decide", "outcome": outcome, "reason": reason},
    ):
        current = oversight.get(url, headers=REGULATOR)
        ok(
            oversight.post(
                f"{url}/transitions",
                json=step,
                headers={**REGULATOR, "If-Match": current.headers["ETag"]},
            )
        )


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


def plan_state(ranking: httpx.Client, plan_id: str, own: dict[str, str]) -> str:
    return str(ok(ranking.get(f"/v1/plans/{plan_id}", headers=own))["latest_state"])


def activate(ranking: httpx.Client, plan_id: str, own: dict[str, str]) -> None:
    current = ranking.get(f"/v1/plans/{plan_id}", headers=own)
    ok(
        ranking.post(
            f"/v1/plans/{plan_id}/decision",
            json={"action": "activate"},
            headers={**own, "If-Match": current.headers["ETag"]},
        )
    )


def run(ranking: httpx.Client, plan_id: str, own: dict[str, str]) -> dict[str, Any]:
    started = ranking.post(f"/v1/plans/{plan_id}/runs", headers=own)
    ok(started, 202)
    location = started.headers["Location"]

    def finished() -> dict[str, Any] | None:
        state = ok(ranking.get(location, headers=own))  # public only once it succeeded
        return state if state["state"] in ("succeeded", "failed") else None

    return dict(wait_for(finished, timeout=60))


__all__ = ["wait_for"]
