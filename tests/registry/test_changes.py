"""The change feed: every change exactly once, in order, even while writers are busy."""

from __future__ import annotations

import asyncio
import time

from services.registry.changes import repository as changes
from tests.conftest import auth
from tests.registry.conftest import declare, make_uscc, register

FEED_READER = auth("service", sub="service:ranking")


async def read_all(client, after=None, expect=None, patience=15.0) -> tuple[list[dict], str | None]:
    """Read the feed to its end; with ``expect``, keep polling until that many have come.

    The feed holds back rows while any older transaction on the server is still open (other
    test workers' included), so a complete read may need a moment.
    """
    seen: list[dict] = []
    deadline = time.monotonic() + patience
    while True:
        params = {"limit": 7}
        if after:
            params["after"] = after
        page = (await client.get("/v1/changes", params=params, headers=FEED_READER)).json()
        seen += page["items"]
        after = page["next_cursor"]
        if page["items"]:
            continue
        if expect is None or len(seen) >= expect or time.monotonic() > deadline:
            return seen, after
        await asyncio.sleep(0.05)


async def test_feed_lists_changes_in_order_and_resumes(live_client):
    uscc = make_uscc()
    await register(live_client, uscc)
    sid = (await declare(live_client, uscc)).json()["id"]
    first, cursor = await read_all(live_client, expect=2)
    assert [(c["kind"], c["standard_id"]) for c in first] == [
        ("enterprise.created", None),
        ("standard.created", sid),
    ]
    assert first[1]["version"] == 1
    assert first[1]["category"] == "HA-RICE-COOKER"
    # Resume: only what came after.
    await live_client.post(
        f"/v1/standards/{sid}/withdrawal",
        json={"reason": "停产"},
        headers={**auth("enterprise", uscc), "If-Match": '"1"'},
    )
    more, cursor2 = await read_all(live_client, after=cursor, expect=1)
    assert [c["kind"] for c in more] == ["standard.withdrawn"]
    nothing, cursor3 = await read_all(live_client, after=cursor2)
    assert nothing == []
    assert cursor3 == cursor2


async def test_a_late_commit_never_lands_behind_a_cursor(committed, live_client):
    """A transaction that wrote first but commits last is held back, not skipped."""
    slow = committed()
    await slow.begin()
    await changes.record(slow, "enterprise.updated", "SLOW")
    fast_uscc = make_uscc()
    await register(live_client, fast_uscc)  # commits while `slow` is still open
    early, cursor = await read_all(live_client)
    assert all(c["uscc"] != fast_uscc for c in early), "a row behind an open transaction leaked"
    await slow.commit()
    await slow.close()
    late, _ = await read_all(live_client, after=cursor, expect=2)
    assert [c["uscc"] for c in late] == ["SLOW", fast_uscc]


async def test_complete_and_exactly_once_under_concurrent_writers(live_client):
    writers, per_writer = 4, 6
    done = asyncio.Event()
    consumed: list[dict] = []

    async def write(w: int) -> None:
        for _ in range(per_writer):
            uscc = make_uscc()
            await register(live_client, uscc)
            assert (await declare(live_client, uscc)).status_code == 201

    async def consume() -> None:
        after = None
        while not done.is_set():
            page, after = await read_all(live_client, after=after)
            consumed.extend(page)
            await asyncio.sleep(0.01)
        page, _ = await read_all(
            live_client, after=after, expect=writers * per_writer * 2 - len(consumed)
        )
        consumed.extend(page)

    consumer = asyncio.create_task(consume())
    await asyncio.gather(*(write(w) for w in range(writers)))
    done.set()
    await consumer
    cursors = [c["cursor"] for c in consumed]
    assert len(consumed) == writers * per_writer * 2
    assert len(set(cursors)) == len(cursors), "a change was delivered twice"
    kinds = [c["kind"] for c in consumed]
    assert kinds.count("enterprise.created") == kinds.count("standard.created") == 24
    # Each enterprise appears before its standard.
    position = {}
    for i, c in enumerate(consumed):
        position.setdefault((c["uscc"], c["kind"]), i)
    for (uscc, kind), i in position.items():
        if kind == "standard.created":
            assert position[(uscc, "enterprise.created")] < i


async def test_bad_cursor_is_422(live_client):
    from services.kit.pagination import encode_cursor

    for bad in (
        "nonsense",
        encode_cursor([True, 1]),
        encode_cursor([2**70, 1]),
        encode_cursor(["a", 1]),
    ):
        response = await live_client.get("/v1/changes", params={"after": bad}, headers=FEED_READER)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["field"] == "after"


async def test_the_feed_is_for_services_sync_and_regulators(live_client):
    assert (await live_client.get("/v1/changes")).status_code == 401
    uscc = make_uscc()
    response = await live_client.get("/v1/changes", headers=auth("enterprise", uscc))
    assert response.status_code == 403
    for role in ("sync", "regulator", "service"):
        assert (await live_client.get("/v1/changes", headers=auth(role))).status_code == 200
