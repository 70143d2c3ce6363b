"""The outbox relay and the client for calls between services."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from services.kit.context import request_id_var
from services.kit.http import (
    ServiceClient,
    ServiceConflict,
    ServiceNotFound,
    ServiceRejected,
    ServiceUnreachable,
)
from services.kit.outbox import OutboxRelay, enqueue
from services.registry.models import kit_tables

outbox = kit_tables.outbox


def recording_transport(log: list[httpx.Request], status: int = 200, delay: float = 0.0):
    async def handler(request: httpx.Request) -> httpx.Response:
        log.append(request)
        if delay:
            await asyncio.sleep(delay)
        return httpx.Response(status, json={"ok": True})

    return httpx.MockTransport(handler)


async def test_two_relays_racing_deliver_each_message_once(committed):
    async with committed() as s, s.begin():
        ids = [
            await enqueue(s, kit_tables, target="ranking", path="/v1/x", payload={"n": i})
            for i in range(40)
        ]
    seen: list[httpx.Request] = []
    relays = [
        OutboxRelay(
            committed,
            kit_tables,
            {
                "ranking": ServiceClient(
                    "http://ranking", "tok", transport=recording_transport(seen, delay=0.005)
                )
            },
            batch_size=7,
        )
        for _ in range(2)
    ]

    async def drain(relay: OutboxRelay) -> int:
        total = 0
        while (n := await relay.run_once()) > 0:
            total += n
        return total

    totals = await asyncio.gather(drain(relays[0]), drain(relays[1]))
    assert sum(totals) == 40
    assert all(t > 0 for t in totals), "both relays should have taken a share"
    keys = Counter(r.headers["idempotency-key"] for r in seen)
    assert set(keys) == set(ids)
    assert max(keys.values()) == 1
    assert all(r.headers["authorization"] == "Bearer tok" for r in seen)
    async with committed() as s:
        statuses = (await s.execute(select(outbox.c.status))).scalars().all()
    assert statuses == ["delivered"] * 40


async def test_unavailable_target_keeps_message_pending_with_backoff(committed):
    async with committed() as s, s.begin():
        await enqueue(s, kit_tables, target="ranking", path="/v1/x", payload={})
    seen: list[httpx.Request] = []
    client = ServiceClient(
        "http://ranking", None, retries=0, transport=recording_transport(seen, status=503)
    )
    relay = OutboxRelay(committed, kit_tables, {"ranking": client})
    assert await relay.run_once() == 0
    assert await relay.run_once() == 0  # not due again yet: backoff
    async with committed() as s:
        row = (await s.execute(select(outbox))).one()
    assert len(seen) == 1
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error.startswith("503")
    assert row.next_attempt_at > row.created_at


async def test_rejected_message_is_kept_as_failed_not_dropped(committed):
    async with committed() as s, s.begin():
        await enqueue(s, kit_tables, target="ranking", path="/v1/x", payload={})
        await enqueue(s, kit_tables, target="nowhere", path="/v1/x", payload={})
    seen: list[httpx.Request] = []
    client = ServiceClient("http://ranking", None, transport=recording_transport(seen, status=422))
    await OutboxRelay(committed, kit_tables, {"ranking": client}).run_once()
    async with committed() as s:
        rows = (await s.execute(select(outbox).order_by(outbox.c.id))).all()
    assert [(r.status, r.attempts) for r in rows] == [("failed", 1), ("failed", 1)]
    assert rows[0].last_error.startswith("422")
    assert rows[1].last_error == "unknown target"


async def test_message_written_in_a_rolled_back_transaction_is_never_sent(committed):
    async with committed() as s:
        await enqueue(s, kit_tables, target="ranking", path="/v1/x", payload={})
        await s.rollback()
    async with committed() as s:
        assert (await s.execute(select(outbox))).all() == []


async def test_client_retries_connect_errors_and_503_then_succeeds():
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused")
        if calls == 2:
            return httpx.Response(503, json={"code": "service_unavailable", "detail": "busy"})
        return httpx.Response(200, json={"fine": True})

    client = ServiceClient("http://x", "t", backoff=0, transport=httpx.MockTransport(handler))
    response = await client.request("GET", "/v1/y")
    assert response.json() == {"fine": True}
    assert calls == 3


async def test_a_redirect_is_an_error_not_a_delivery():
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(301, headers={"Location": "https://x/v1/y"})

    client = ServiceClient("http://x", "t", backoff=0, transport=httpx.MockTransport(handler))
    with pytest.raises(ServiceUnreachable) as raised:
        await client.request("POST", "/v1/y", json={}, idempotency_key="k")
    assert raised.value.status == 301
    assert raised.value.code == "redirected"
    assert "https://x/v1/y" in raised.value.detail
    assert not raised.value.retryable  # an operator's fix: the outbox keeps it as failed
    assert calls == 1


async def test_client_does_not_retry_a_write_without_idempotency_key():
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, json={"code": "service_unavailable", "detail": "busy"})

    client = ServiceClient("http://x", "t", backoff=0, transport=httpx.MockTransport(handler))
    with pytest.raises(ServiceUnreachable):
        await client.request("POST", "/v1/y", json={})
    assert calls == 1


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (404, ServiceNotFound),
        (409, ServiceConflict),
        (422, ServiceRejected),
        (500, ServiceUnreachable),
    ],
)
async def test_problem_answers_become_typed_errors(status, exc):
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            json={"code": "some_code", "detail": "what went wrong", "errors": [{"field": "a"}]},
            headers={"content-type": "application/problem+json"},
        )

    client = ServiceClient("http://x", None, transport=httpx.MockTransport(handler))
    with pytest.raises(exc) as info:
        await client.request("GET", "/v1/y")
    assert (info.value.status, info.value.code, info.value.detail) == (
        status,
        "some_code",
        "what went wrong",
    )


async def test_client_passes_on_the_request_id():
    seen: list[httpx.Request] = []
    client = ServiceClient("http://x", "tok", transport=recording_transport(seen))
    token = request_id_var.set("req-abc")
    try:
        await client.request("GET", "/v1/y")
    finally:
        request_id_var.reset(token)
    assert seen[0].headers["x-request-id"] == "req-abc"


async def test_a_poison_message_does_not_hold_up_the_others(committed):
    """A connection reset on one message is retried later; the rest are delivered now."""
    async with committed() as s, s.begin():
        for path in ("/poison", "/ok1", "/ok2"):
            await enqueue(s, kit_tables, target="ranking", path=path, payload={})
    sent: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if request.url.path == "/poison":
            raise httpx.ReadError("connection reset by peer")
        return httpx.Response(200, json={})

    client = ServiceClient(
        "http://ranking", None, retries=0, transport=httpx.MockTransport(handler)
    )
    relay = OutboxRelay(committed, kit_tables, {"ranking": client})
    assert await relay.run_once() == 2
    assert await relay.run_once() == 0
    async with committed() as s:
        rows = {r.path: r for r in (await s.execute(select(outbox))).all()}
    assert sent == ["/poison", "/ok1", "/ok2"]
    assert (rows["/ok1"].status, rows["/ok2"].status) == ("delivered", "delivered")
    assert (rows["/poison"].status, rows["/poison"].attempts) == ("pending", 1)
    assert rows["/poison"].last_error == "0 unreachable: ReadError"


async def test_a_leased_message_is_not_claimed_twice_until_its_relay_dies(committed):
    async with committed() as s, s.begin():
        await enqueue(s, kit_tables, target="ranking", path="/v1/x", payload={})
    seen: list[httpx.Request] = []
    clients = {"ranking": ServiceClient("http://r", None, transport=recording_transport(seen))}
    crashed = OutboxRelay(committed, kit_tables, clients, lease_seconds=1)
    claimed = await crashed.claim()  # ... and the relay dies before delivering
    assert len(claimed) == 1
    other = OutboxRelay(committed, kit_tables, clients)
    assert await other.run_once() == 0, "the lease keeps a second relay off the message"
    await asyncio.sleep(1.2)
    assert await other.run_once() == 1, "after the lease the message is picked up again"
    assert len(seen) == 1
