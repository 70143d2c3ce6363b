"""The end-to-end walk's own data and its clock moves; the steps themselves are the shared ones
of ``scripts/demo/api.py`` (``make demo`` seeds with the same)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

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
from tests.e2e.harness import Services

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


def close_window(services: Services, notice: dict[str, Any], already: int = 0) -> int:
    """Move the clocks to the day after the notice's window closes (oversight's background
    step then reports the window); the offset in days, to keep for later steps."""
    closes = date.fromisoformat(notice["window"]["closes"])
    offset = max(already, OFFSET["days"], (closes - datetime.now(UTC).date()).days + 2)
    # Both move together: ranking asks oversight for the exclusions in force on its own date.
    for name in ("ranking", "oversight"):
        services.stop(name)
        services.start(name, FORERUNNER_CLOCK_OFFSET_DAYS=str(offset))
    OFFSET["days"] = offset
    return offset


# The clocks' current offset, for a service started again later in the walk.
OFFSET = {"days": 0}

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
