"""Reads kept in memory (kit.fresh): forgotten when PostgreSQL says their tables changed,
never served while nobody listens, never older than their age, within their budget."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Column, Integer, MetaData, Table, Text, text, update
from sqlalchemy.engine import make_url
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from services.kit.db import Database, note_write, plain_url
from services.kit.fresh import MISSING, READ_WEIGHT, ReadCache, Watched
from services.kit.kit_migrations import kit_0002_notify_changes
from services.kit.reads import Answer, KeptAnswers, Reader, kept_public
from services.ranking import app as ranking_app
from services.registry import app as registry_app
from services.registry.settings import RegistrySettings
from tests.conftest import service_settings

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHANNEL = "fresh_test_changed"


async def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the time allowed")


@pytest_asyncio.fixture(loop_scope="session")
async def dsn(database_url: str) -> AsyncIterator[str]:
    """A table of its own that notifies CHANNEL, as a service's migration sets it up."""
    url = plain_url(database_url)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "DROP SCHEMA IF EXISTS fresh_test CASCADE; CREATE SCHEMA fresh_test; "
            "CREATE TABLE fresh_test.items (id int PRIMARY KEY, name text NOT NULL); "
            "CREATE TABLE fresh_test.other (id int PRIMARY KEY)"
        )
        for statement in kit_0002_notify_changes("fresh_test", CHANNEL, ["items"]):
            await conn.execute(statement)
        yield url
        await conn.execute("DROP SCHEMA fresh_test CASCADE")
    finally:
        await conn.close()


class Listening:
    """A cache whose listener runs in the background, and a connection to change things."""

    def __init__(self, cache: ReadCache, dsn: str, writer: asyncpg.Connection) -> None:
        self.cache = cache
        self.dsn = dsn
        self.writer = writer
        self.reads = 0

    async def read(self) -> list[str]:
        self.reads += 1
        rows = await self.writer.fetch("SELECT name FROM fresh_test.items ORDER BY id")
        return [r["name"] for r in rows]

    async def names(self) -> list[str]:
        return await self.cache.kept("names", self.read)

    async def heard(self, change: Callable[[], Awaitable[Any]]) -> None:
        """Make ``change`` and wait until the listener has heard of it."""
        before = self.cache.changes
        await change()
        await eventually(lambda: self.cache.changes > before)


@pytest_asyncio.fixture(loop_scope="session")
async def live(dsn: str) -> AsyncIterator[Listening]:
    cache = ReadCache(1 << 20, 60)
    names = (f"fresh-test-{i}" for i in itertools.count())

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, server_settings={"application_name": next(names)})

    writer = await asyncpg.connect(dsn)
    await writer.execute("TRUNCATE fresh_test.items")  # before listening: never heard here
    task = asyncio.create_task(cache.listen(connect, CHANNEL, check_every=0.2, retry_after=0.05))
    try:
        await eventually(lambda: cache.listening)
        yield Listening(cache, dsn, writer)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await writer.close()


async def test_a_commit_anywhere_forgets_what_was_kept(live: Listening) -> None:
    assert await live.names() == []
    assert await live.names() == []
    assert live.reads == 1
    assert live.cache.hits == 1
    await live.heard(lambda: live.writer.execute("INSERT INTO fresh_test.items VALUES (1, 'a')"))
    assert await live.names() == ["a"]
    assert live.reads == 2
    await live.heard(lambda: live.writer.execute("UPDATE fresh_test.items SET name = 'b'"))
    assert await live.names() == ["b"]
    await live.heard(lambda: live.writer.execute("TRUNCATE fresh_test.items"))
    assert await live.names() == []
    assert live.reads == 4


async def test_nothing_is_heard_of_a_rollback_or_of_a_statement_that_changed_nothing(
    live: Listening,
) -> None:
    await live.names()
    before = live.cache.changes
    await live.writer.execute("UPDATE fresh_test.items SET name = 'x' WHERE id = -1")
    await live.writer.execute("DELETE FROM fresh_test.items WHERE id = -1")
    await live.writer.execute("BEGIN; INSERT INTO fresh_test.items VALUES (8, 'never')")
    await live.writer.execute("ROLLBACK")
    # Notifications arrive in commit order: once the last change is heard, so were these.
    await live.heard(lambda: live.writer.execute("INSERT INTO fresh_test.items VALUES (9, 'z')"))
    assert live.cache.changes == before + 1
    assert await live.names() == ["z"]


async def test_while_nobody_listens_every_read_goes_to_the_database(live: Listening) -> None:
    await live.names()
    await live.names()
    assert live.reads == 1
    admin = await asyncpg.connect(live.dsn)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name LIKE 'fresh-test-%'"
        )
    finally:
        await admin.close()
    assert killed == 1
    await eventually(lambda: not live.cache.listening)
    assert len(live.cache) == 0
    # A change made while nobody listens cannot be heard; nothing kept may hide it.
    await live.writer.execute("INSERT INTO fresh_test.items VALUES (1, 'while down')")
    if not live.cache.listening:
        assert await live.names() == ["while down"]
    await eventually(lambda: live.cache.listening)
    assert await live.names() == ["while down"]
    await live.names()
    assert live.cache.hits >= 1
    await live.heard(lambda: live.writer.execute("DELETE FROM fresh_test.items"))
    assert await live.names() == []


async def test_an_answer_read_across_a_change_is_not_kept() -> None:
    cache = ReadCache(1 << 20, 60)
    cache.listening = True
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        cache.changed()  # heard while the read was in flight: its answer may predate it
        return reads

    assert await cache.kept("k", read) == 1
    assert await cache.kept("k", read) == 2
    assert len(cache) == 0


async def test_never_older_than_its_age_and_never_over_its_budget() -> None:
    now = [0.0]
    cache = ReadCache(8 * 1000, 10, clock=lambda: now[0])
    cache.listening = True
    reads: list[str] = []

    def reader(key: str, size: int) -> Callable[[], Awaitable[bytes]]:
        async def read() -> bytes:
            reads.append(key)
            return b"x" * size

        return read

    await cache.kept("a", reader("a", 500))
    now[0] = 10.0
    await cache.kept("a", reader("a", 500))  # exactly max_age old: still served
    now[0] = 10.5
    await cache.kept("a", reader("a", 500))  # older: read again
    assert reads == ["a", "a"]
    for key in "bcdefghijklmnopq":  # 600 bytes each with their overhead: the oldest go first
        await cache.kept(key, reader(key, 500))
    assert len(cache) <= 8000 // 600
    await cache.kept("q", reader("q", 500))
    assert reads.count("q") == 1
    await cache.kept("a", reader("a", 500))
    assert reads.count("a") == 3
    # One answer larger than an eighth of the budget is never kept.
    await cache.kept("big", reader("big", 2000))
    await cache.kept("big", reader("big", 2000))
    assert reads.count("big") == 2


async def test_a_repeatable_read_is_read_again_after_a_change_and_others_are_not() -> None:
    now = [0.0]
    cache = ReadCache(64 * 1024, 10, clock=lambda: now[0])
    cache.listening = True
    rows = {"a": 1, "b": 1}
    reads: list[str] = []

    def reader(key: str) -> Callable[[], Awaitable[int]]:
        async def read() -> int:
            reads.append(key)
            return rows[key]

        return read

    assert await cache.renewed("a") is MISSING, "nothing kept, nothing to read again"
    await cache.kept("a", reader("a"), repeatable=True)
    await cache.kept("b", reader("b"))
    assert await cache.renewed("a") == 1
    assert reads == ["a", "b"], "still kept: from memory"
    rows.update(a=2, b=2)
    cache.changed()
    # Forgotten by the change, "a" is read again by its own read: the answer after the change.
    assert await cache.renewed("a") == 2
    assert await cache.renewed("a") == 2
    assert reads == ["a", "b", "a"]
    assert await cache.renewed("b") is MISSING, "a read that did not say so is never repeated"
    now[0] = 11.0  # aged out: read again too
    rows["a"] = 3
    assert await cache.renewed("a") == 3
    # Not listening: read again on every ask, kept by none.
    cache.listening = False
    rows["a"] = 4
    assert await cache.renewed("a") == 4
    assert await cache.renewed("a") == 4
    assert reads == ["a", "b", "a", "a", "a", "a"]


async def test_a_repeatable_read_across_a_change_is_neither_kept_nor_served_again() -> None:
    cache = ReadCache(1 << 20, 60)
    cache.listening = True
    reads = 0
    racing = True

    async def read() -> int:
        nonlocal reads
        reads += 1
        if racing:
            cache.changed()  # heard while the read was in flight
        return reads

    assert await cache.kept("k", read, repeatable=True) == 1
    assert await cache.renewed("k") is MISSING, "never kept, so never remembered"
    racing = False
    assert await cache.kept("k", read, repeatable=True) == 2
    racing = True
    cache.changed()
    assert await cache.renewed("k") == 3  # read again, but a change came while it read
    assert await cache.renewed("k") == 4, "so it was not kept: read again"
    racing = False
    assert await cache.renewed("k") == 5
    assert await cache.renewed("k") == 5


async def test_the_reads_remembered_are_bounded_and_the_least_recent_go_first() -> None:
    # Room to remember three reads under one-letter keys (each READ_WEIGHT and its key).
    cache = ReadCache(2 * 3 * (READ_WEIGHT + 100), 60)
    cache.listening = True

    async def read() -> bytes:
        return b"x"

    async def remembered() -> str:
        cache.changed()
        return "".join([k for k in "abcdefg" if await cache.renewed(k) is not MISSING])

    for key in "abcd":
        await cache.kept(key, read, repeatable=True)
    assert await remembered() == "bcd"
    # A key as long as a whole query string weighs what it holds: it pushes out two.
    await cache.kept(("e", "q" * 1400), read, repeatable=True)
    assert await cache.renewed(("e", "q" * 1400)) == b"x"
    assert await remembered() == "d"
    # An answer too large to keep is not read again either.
    big = ReadCache(64 * 1024, 60)
    big.listening = True

    async def large() -> bytes:
        return b"x" * 9000

    await big.kept("f", large, repeatable=True)
    big.changed()
    assert await big.renewed("f") is MISSING


async def test_a_cache_of_no_bytes_keeps_nothing() -> None:
    cache = ReadCache(0, 10)
    cache.listening = True
    calls = 0

    async def read() -> int:
        nonlocal calls
        calls += 1
        return calls

    await cache.kept("k", read)
    await cache.kept("k", read)
    assert calls == 2


ITEMS = Table(
    "items",
    MetaData(schema="fresh_test"),
    Column("id", Integer, primary_key=True),
    Column("name", Text),
)


async def test_a_commit_that_wrote_a_kept_table_through_this_process_forgets_at_once(
    database_url: str, dsn: str
) -> None:
    watched = Watched(CHANNEL, ("fresh_test.items",))
    db = Database(service_settings(RegistrySettings, database_url), watched=watched)
    cache = db.read_cache
    cache.listening = True  # as if listening, with no listener to tell it anything

    async def commit(*statements: Any) -> None:
        async with db.sessionmaker() as session:
            for statement in statements:
                await session.execute(statement)
            await session.commit()

    try:
        await cache.kept("k", _value)
        await commit(text("SELECT count(*) FROM fresh_test.items"))
        assert len(cache) == 1, "a commit that only read forgets nothing"
        await commit(text("INSERT INTO fresh_test.other VALUES (1)"))
        await commit(text("UPDATE fresh_test.other SET id = 2"))
        assert len(cache) == 1, "a table the kept reads do not come from forgets nothing"
        async with db.sessionmaker() as session:
            await session.execute(text("INSERT INTO fresh_test.items VALUES (42, 'mine')"))
            await session.rollback()
        assert len(cache) == 1, "a rollback forgets nothing"
        await commit(text("INSERT INTO fresh_test.items VALUES (42, 'mine')"))
        assert len(cache) == 0, "the commit itself forgets, before any notification"
        await cache.kept("k", _value)
        await commit(update(ITEMS).where(ITEMS.c.id == 42).values(name="changed"))
        assert len(cache) == 0, "a statement on the table object"
        await cache.kept("k", _value)
        async with db.sessionmaker() as session:
            note_write(session, ITEMS)  # what a COPY on the driver connection says
            await session.commit()
        assert len(cache) == 0
        await commit(text("DELETE FROM fresh_test.items"), text("DELETE FROM fresh_test.other"))
    finally:
        await db.dispose()


async def test_each_service_watches_the_tables_its_triggers_notify(database_url: str) -> None:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        for watched in (registry_app.KEPT_READS, ranking_app.KEPT_READS):
            schema = watched.channel.removesuffix("_changed")
            rows = await conn.fetch(
                "SELECT DISTINCT c.relname, p.prosrc FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE n.nspname = $1 AND t.tgname LIKE '%_notifies'",
                schema,
            )
            assert {f"{schema}.{r['relname']}" for r in rows} == set(watched.tables)
            assert all(f"'{watched.channel}'" in r["prosrc"] for r in rows)
    finally:
        await conn.close()


async def _value() -> str:
    return "v"


async def test_a_listener_gone_silent_is_distrusted_within_a_second(dsn: str) -> None:
    """A connection cut without a word (a dropped NAT entry, a host gone) tells nobody; the
    checks that stop answering take the cache out of service, and the stale answer goes."""
    frozen = asyncio.Event()
    url = make_url(dsn)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if not frozen.is_set():
                    writer.write(data)

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(url.host, url.port or 5432)
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    through = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    cache = ReadCache(1 << 20, 60)
    task = asyncio.create_task(
        cache.listen(lambda: asyncpg.connect(through), CHANNEL, check_every=0.25)
    )
    writer = await asyncpg.connect(dsn)
    try:
        await eventually(lambda: cache.listening)

        async def read() -> int:
            return int(await writer.fetchval("SELECT count(*) FROM fresh_test.items"))

        before = await cache.kept("n", read)
        frozen.set()
        await writer.execute("INSERT INTO fresh_test.items VALUES (500, 'unheard')")
        started = time.monotonic()
        await eventually(lambda: not cache.listening, seconds=2)
        assert time.monotonic() - started <= 0.75  # two check intervals, and a little
        assert await cache.kept("n", read) == before + 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        proxy.close()
        await writer.execute("DELETE FROM fresh_test.items WHERE id = 500")
        await writer.close()


async def test_a_key_counts_against_the_budget_however_long() -> None:
    cache = ReadCache(64 * 1024, 60)
    cache.listening = True
    for i in range(2000):  # as many URLs differing only in an ignored parameter
        key = ("answer", "/v1/standards", f"q=x&pad={i}{'p' * 4000}".encode())
        await cache.kept(key, _value)
    assert cache._bytes <= 64 * 1024
    assert len(cache) <= 64 * 1024 // 4000


async def test_an_answer_read_again_before_routing_falls_to_the_route_when_it_fails() -> None:
    """KeptAnswers reads a forgotten public answer again by its route's read; when that read
    finds nothing, the route answers; when it fails, the route answers that same error
    without reading again."""
    cache = ReadCache(1 << 20, 60)
    cache.listening = True
    reader = Reader(SimpleNamespace(read_cache=cache))  # type: ignore[arg-type]
    state = {"fail": False, "found": True, "reads": 0}
    routed: list[str] = []

    async def read() -> Answer | None:
        state["reads"] += 1
        if state["fail"]:
            raise ConnectionError("the database went away")
        return Answer(b'{"n":1}', '"e1"') if state["found"] else None

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            answer = await kept_public(Request(scope), reader, read)
            status, body = (200, b"route") if answer else (404, b"none")
        except ConnectionError:
            status, body = 503, b"failed"
        routed.append(body.decode())
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=KeptAnswers(route, ("/v1/",), cache)),
        base_url="http://t",
    ) as client:
        assert (await client.get("/v1/x?q=1")).content == b"route"  # kept by the route
        assert (await client.get("/v1/x?q=1")).content == b'{"n":1}'  # then before it
        cache.changed()
        state["fail"] = True
        failed = await client.get("/v1/x?q=1")
        assert (failed.status_code, failed.content) == (503, b"failed")
        assert state["reads"] == 2, "the route answered the error without reading again"
        state.update(fail=False, found=False)
        none = await client.get("/v1/x?q=1")
        assert (none.status_code, state["reads"]) == (404, 3), "no answer: the route's 404"
        state["found"] = True
        cache.changed()
        again = await client.get("/v1/x?q=1")
        assert (again.status_code, again.content, state["reads"]) == (200, b'{"n":1}', 4)
    assert routed == ["route", "failed", "none"]
