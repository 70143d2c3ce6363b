"""A sync client that stops sending mid-body holds no lock and no transaction (issue 8.2).

Before the fix the request's transaction stayed open while the service waited for the rest
of the body: a declaration on an enterprise of the batch hung on its lock, and the change
feed stood still for everyone (it shows only what is older than every open transaction).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from services.registry.sync import service as sync_service
from tests.conftest import auth
from tests.registry.conftest import declare, make_uscc, register
from tests.registry.test_changes import read_all
from tests.registry.test_sync import item, outcomes, push, push_ndjson, source

# Long enough for a healthy request on a busy test machine, far shorter than a stall.
PATIENCE = 10.0


def line(uscc: str, number: int) -> bytes:
    return json.dumps(item(uscc, source(), number), ensure_ascii=False).encode() + b"\n"


async def test_a_stalled_sync_holds_no_lock(live_client, monkeypatch):
    # One item per chunk: before the fix the first item was applied (and its enterprise
    # locked) before the service asked for the rest of the body.
    monkeypatch.setattr(sync_service, "CHUNK_ITEMS", 1)
    uscc = make_uscc()
    await register(live_client, uscc)
    asked_for_more, release = asyncio.Event(), asyncio.Event()

    async def stalling_body() -> AsyncIterator[bytes]:
        yield line(uscc, 1)
        asked_for_more.set()  # the service has read the first line and wants the next
        await release.wait()
        yield line(uscc, 2)

    stalled = asyncio.create_task(push_ndjson(live_client, stalling_body()))
    try:
        await asyncio.wait_for(asked_for_more.wait(), PATIENCE)

        declared = await asyncio.wait_for(
            declare(live_client, uscc, standard_no="Q/12TJ 0042-2024"), PATIENCE
        )
        assert declared.status_code == 201, declared.text
        patched = await asyncio.wait_for(
            live_client.patch(
                f"/v1/enterprises/{uscc}",
                json={"verification": "verified"},
                headers={**auth("regulator"), "If-Match": "*"},
            ),
            PATIENCE,
        )
        assert patched.status_code == 200, patched.text
        other = make_uscc()
        second = await asyncio.wait_for(push(live_client, [item(other, source())]), PATIENCE)
        assert outcomes(second) == ["created"]

        feed, _ = await read_all(live_client, expect=4, patience=PATIENCE)
        kinds = [(c["kind"], c["uscc"]) for c in feed]
        assert ("standard.created", uscc) in kinds
        assert ("enterprise.verified", uscc) in kinds
        assert ("standard.created", other) in kinds
        assert not stalled.done()
    finally:
        release.set()
    response = await asyncio.wait_for(stalled, PATIENCE)
    assert response.status_code == 200, response.text
    assert outcomes(response.json()) == ["created", "created"]
