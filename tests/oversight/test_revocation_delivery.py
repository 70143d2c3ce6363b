"""A revocation decided while ranking is down arrives once ranking is back.

Ranking has no routes yet, so a stand-in ranking (a small FastAPI app recording what it is
sent, from conftest) is served by a real uvicorn on a free local port, stopped and started.
Swap in ranking's own app when it has ``POST /v1/titles/{id}/revocation``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from sqlalchemy import select, update

from services.kit.clock import FixedClock
from services.kit.http import ServiceClient
from services.kit.outbox import OutboxRelay
from services.oversight.app import create_app
from services.oversight.models import kit_tables
from tests.conftest import bind_app, client_for
from tests.oversight.conftest import (
    REGULATOR,
    START,
    StandInRanking,
    oversight_settings,
    stand_in_ranking_app,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(state: StandInRanking, port: int) -> AsyncIterator[None]:
    config = uvicorn.Config(
        stand_in_ranking_app(state),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers only this flag
                await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_revocation_decided_while_ranking_is_down_arrives_when_it_is_back(
    database_url, committed
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state = StandInRanking()
    state.titles["T-1"] = {"id": "T-1", "uscc": "91120116MA0000009X", "status": "active"}
    app = bind_app(
        create_app(oversight_settings(database_url, ranking_url=url), clock=FixedClock(START)),
        committed,
    )
    relay = OutboxRelay(committed, kit_tables, {"ranking": ServiceClient(url, retries=0)})

    async with client_for(app) as client:
        async with serving(state, port):
            complaint = {
                "kind": "report",
                "target": {"type": "title", "id": "T-1"},
                "grounds": "non_conforming",
                "description": "抽检不合格。",
            }
            filed = (await client.post("/v1/complaints", json=complaint)).json()
        # Ranking is down from here on.
        case_id = filed["complaint"]["progress"]["case_id"]
        for action, extra in [
            ("accept", {}),
            ("investigate", {}),
            ("decide", {"outcome": "upheld", "reason": "抽检不合格且拒不整改"}),
        ]:
            etag = (await client.get(f"/v1/cases/{case_id}", headers=REGULATOR)).headers["ETag"]
            r = await client.post(
                f"/v1/cases/{case_id}/transitions",
                json={"action": action, **extra},
                headers={**REGULATOR, "If-Match": etag},
            )
            assert r.status_code == 200, r.text

        assert await relay.run_once() == 0
        outbox = kit_tables.outbox
        async with committed() as session:
            [message] = (await session.execute(select(outbox))).all()
            assert (message.status, message.attempts) == ("pending", 1)
            # The relay's backoff runs on the database's clock: make the retry due now.
            await session.execute(update(outbox).values(next_attempt_at=message.created_at))
            await session.commit()

        async with serving(state, port):
            assert await relay.run_once() == 1
            assert await relay.run_once() == 0
        assert [(what, key) for what, key, _ in state.received] == [
            ("revocation:T-1", message.message_id)
        ]
        assert state.received[0][2]["case_id"] == case_id

    await relay.clients["ranking"].aclose()
    await app.state.db.dispose()
