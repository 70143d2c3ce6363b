"""Steps that move a plan through its lifecycle over the API (shared by plan and run tests)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.models import kit_tables
from tests.ranking.conftest import SERVICE, experts, plan_body


async def create(
    api: httpx.AsyncClient, area: str, own: dict[str, str], **over: Any
) -> httpx.Response:
    response = await api.post("/v1/plans", json=plan_body(area, **over), headers=own)
    assert response.status_code == 201, response.text
    return response


async def submit(api: httpx.AsyncClient, plan_id: str, own: dict[str, str]) -> httpx.Response:
    current = await api.get(f"/v1/plans/{plan_id}", headers=own)
    response = await api.post(
        f"/v1/plans/{plan_id}/submission", headers={**own, "If-Match": current.headers["ETag"]}
    )
    assert response.status_code == 200, response.text
    return response


async def approve_by_experts(api: httpx.AsyncClient, plan_id: str, count: int = 3) -> None:
    for headers in await experts(api, count):
        response = await api.post(
            f"/v1/plans/{plan_id}/reviews",
            json={"verdict": "approve", "comments": "指标设置合理"},
            headers=headers,
        )
        assert response.status_code == 201, response.text


async def notice_of(session: AsyncSession, plan_id: str) -> dict[str, Any]:
    outbox = kit_tables.outbox
    rows = (
        await session.execute(select(outbox.c.message_id, outbox.c.path, outbox.c.payload))
    ).all()
    mine = [r for r in rows if (r.payload.get("subject") or {}).get("id") == plan_id]
    assert len(mine) >= 1
    notice = mine[-1].payload
    return {
        "message_id": mine[-1].message_id,
        "path": mine[-1].path,
        "source_id": notice["payload"]["source_id"],
        **notice,
    }


def outcome_of(notice: dict[str, Any], upheld: bool = False) -> dict[str, Any]:
    """What oversight reports when the notice's window has closed."""
    objection = {"case_id": "c-1", "uscc": None, "reason": "评估指标设置不合理"}
    return {
        "notice_id": "3f0b2c1e-0000-4000-8000-000000000001",
        "source_id": notice["source_id"],
        "subject": notice["subject"],
        "closed_on": "2026-03-20",
        "objections": 1 if upheld else 0,
        "upheld": [objection] if upheld else [],
    }


async def close_publicity(
    api: httpx.AsyncClient, session: AsyncSession, plan_id: str, upheld: bool = False
) -> httpx.Response:
    notice = await notice_of(session, plan_id)
    response = await api.post(
        "/v1/publicity-outcomes",
        json=outcome_of(notice, upheld),
        headers=SERVICE,
    )
    assert response.status_code == 200, response.text
    return response


async def activate(api: httpx.AsyncClient, plan_id: str, own: dict[str, str]) -> httpx.Response:
    current = await api.get(f"/v1/plans/{plan_id}", headers=own)
    response = await api.post(
        f"/v1/plans/{plan_id}/decision",
        json={"action": "activate"},
        headers={**own, "If-Match": current.headers["ETag"]},
    )
    assert response.status_code == 200, response.text
    return response


async def active_plan(
    api: httpx.AsyncClient, session: AsyncSession, area: str, own: dict[str, str], **over: Any
) -> str:
    plan_id = str((await create(api, area, own, **over)).json()["id"])
    await submit(api, plan_id, own)
    await approve_by_experts(api, plan_id)
    await close_publicity(api, session, plan_id)
    await activate(api, plan_id, own)
    return plan_id
