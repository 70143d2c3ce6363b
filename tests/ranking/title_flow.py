"""From an active plan to forerunner titles over the API (shared by shortlist and title tests)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import ean

from services.ranking.models import kit_tables
from services.ranking.runs import worker
from tests.conftest import auth
from tests.ranking.conftest import SERVICE, body_for, key_area
from tests.ranking.plan_flow import active_plan
from tests.registry.conftest import make_uscc
from tests.registry.test_sync import item, push, source

_numbers = itertools.count(3001)
# (thermal efficiency %, standby power W): A and B are selected by top 2, C is not.
VALUES = {"A": (92.0, 0.6), "B": (90.0, 0.8), "C": (85.0, 1.0)}


def gtin(n: int) -> str:
    body = f"690{n:09d}"
    return body + ean.calc_check_digit(body)


def indicators(eff: float, standby: float) -> list[dict[str, Any]]:
    return [
        {"code": "thermal_efficiency", "operator": "≥", "value": eff, "unit": "%"},
        {"code": "standby_power", "operator": "≤", "value": standby, "unit": "W"},
    ]


def disclosure(s: dict[str, Any], **over: Any) -> dict[str, Any]:
    """The sync item of a seeded standard (same source, number and product), changed by ``over``."""
    eff, standby = over.pop("values", (s["eff"], s["standby"]))
    return item(
        s["uscc"],
        s["source"],
        s["number"],
        indicators=indicators(eff, standby),
        products=[{"name": "智能电饭锅", "barcode": s["barcode"], "model": "TJ-40A"}],
        **over,
    )


async def seed(registry_http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for label, (eff, standby) in VALUES.items():
        n = next(_numbers)
        out[label] = {
            "uscc": make_uscc(),
            "source": source(),
            "number": n,
            "standard_no": f"Q/12TJ {n:04d}-2024",
            "barcode": gtin(n),
            "eff": eff,
            "standby": standby,
        }
    report = await push(registry_http, [disclosure(s) for s in out.values()])
    for s, r in zip(out.values(), report["items"], strict=True):
        s["id"] = r["standard_id"]
        s["headers"] = auth("enterprise", org=s["uscc"], sub=f"firm:{s['uscc']}")
    return out


async def succeeded_run(
    api: httpx.AsyncClient,
    app: Any,
    session: AsyncSession,
    registry_http: httpx.AsyncClient,
    **over: Any,
) -> dict[str, Any]:
    seeded = await seed(registry_http)
    area = await key_area(api)
    body_id, own = await body_for(api, [area])
    over.setdefault("commitment_days", 5)
    plan_id = await active_plan(api, session, area, own, **over)
    started = await api.post(f"/v1/plans/{plan_id}/runs", headers=own)
    assert started.status_code == 202, started.text
    assert await worker.run_step(app) == 1
    run = (await api.get(f"/v1/runs/{started.json()['id']}", headers=own)).json()
    assert run["state"] == "succeeded", run
    return {
        "seeded": seeded,
        "area": area,
        "body": body_id,
        "own": own,
        "plan_id": plan_id,
        "run": run,
    }


async def shortlist(api: httpx.AsyncClient, flow: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(f"/v1/runs/{flow['run']['id']}/shortlist", headers=flow["own"])
    assert response.status_code == 201, response.text
    out = response.json()
    flow["shortlist"] = out
    flow["entries"] = {e["uscc"]: e for e in out["entries"]}
    return dict(out)


async def commit(api: httpx.AsyncClient, flow: dict[str, Any], label: str) -> httpx.Response:
    s = flow["seeded"][label]
    entry = flow["entries"][s["uscc"]]
    return await api.post(
        f"/v1/shortlist-entries/{entry['id']}/commitment",
        json={"text": "本企业承诺所声明的指标真实有效，接受社会监督。", "agreed": True},
        headers=s["headers"],
    )


async def shortlist_notice(session: AsyncSession, shortlist_id: str) -> dict[str, Any]:
    outbox = kit_tables.outbox
    rows = (await session.execute(select(outbox.c.message_id, outbox.c.payload))).all()
    mine = [r for r in rows if (r.payload.get("subject") or {}).get("id") == shortlist_id]
    assert len(mine) == 1, mine
    return {"message_id": mine[0].message_id, **mine[0].payload}


def outcome(notice: dict[str, Any], upheld: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "notice_id": "7c2d9a10-0000-4000-8000-00000000000a",
        "source_id": notice["payload"]["source_id"],
        "subject": notice["subject"],
        "closed_on": "2026-03-20",
        "objections": len(upheld or []),
        "upheld": upheld or [],
    }


async def titled(
    api: httpx.AsyncClient, app: Any, session: AsyncSession, registry_http: httpx.AsyncClient
) -> dict[str, Any]:
    """A and B shortlisted, both commit, publicity closes with no objection: two titles."""
    flow = await succeeded_run(api, app, session, registry_http)
    await shortlist(api, flow)
    for label in ("A", "B"):
        assert (await commit(api, flow, label)).status_code == 200
    notice = await shortlist_notice(session, flow["shortlist"]["id"])
    reported = await api.post("/v1/publicity-outcomes", json=outcome(notice), headers=SERVICE)
    assert reported.status_code == 200, reported.text
    assert reported.json()["titles_granted"] == 2
    flow["titles"] = {}
    for label in ("A", "B"):
        uscc = flow["seeded"][label]["uscc"]
        page = await api.get("/v1/forerunners", params={"uscc": uscc})
        (title,) = page.json()["items"]
        flow["titles"][label] = title
    return flow
