"""Reads kept in memory for as long as PostgreSQL says nothing they came from has changed.

The public reads (a standard by id, a search page, "is this a current forerunner") are asked
far more often than what they read changes. Each table a service's kept reads come from
notifies the service's channel at the end of every statement that changed a row of it
(``kit_migrations.kit_0002_notify_changes``, installed by the service's migrations;
PostgreSQL sends a NOTIFY when the transaction commits, and never for one that rolls
back). Every process listens on a connection of its own, straight to PostgreSQL (PgBouncer
in transaction mode cannot carry LISTEN: ``db_listen_url``), and forgets what it kept when
told. A commit that wrote through this process's own sessions forgets at once (``kit.db``),
so a caller reads its own write.

What a read keeps is the database's answer, not a response: the route still authorises the
caller, answers 404, 304 or 200 and sets its headers on every request.

A read that depends on nothing but its key (a public answer kept by its URL) may say so
(``repeatable``): the cache then remembers how to read it, beyond the change that forgets
its answer, so that the answer asked for again can be read again by the same read without
the route (``ReadCache.renewed``; ``kit.reads.KeptAnswers``). After a change the questions
asked most come back as a burst; read this way, each costs its read and no pass through
routing (and a forerunner lookup shares its statement with the others: ``kit.batches``).

Nothing is served from memory while the listener is not connected, and the connection is
checked twice a second: unless a check succeeded within the last second, nothing is served
from memory either (a connection cut without a word). PostgreSQL delivers every
notification to a live listener, but should one ever be lost unnoticed, nothing older than
``read_cache_seconds`` is served. Another process's write is seen here as soon as its
notification arrives: milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]

T = TypeVar("T")
log = logging.getLogger("forerunner.fresh")

MISSING: Any = object()
# What an entry is taken to weigh when it is not bytes or str: a row or two.
DEFAULT_WEIGHT = 1024
# What a remembered read (a closure and what it holds: a parsed query) is taken to weigh.
READ_WEIGHT = 2048


def _weight(value: Any) -> int:
    if isinstance(value, bytes | str):
        return len(value) + 100
    return DEFAULT_WEIGHT


def _key_weight(key: Hashable) -> int:
    """A key's share of the budget: a key may carry a caller's whole query string."""
    parts = key if isinstance(key, tuple) else (key,)
    return 64 + sum(len(p) if isinstance(p, str | bytes) else 32 for p in parts)


class ReadCache:
    """Answers of plain reads by key, valid until the next change the service is told of.

    ``kept(key, read)`` returns ``read()``'s answer, from memory when it has it. An answer is
    kept only if no change was heard while it was being read (so an answer read before a
    commit is never kept after it), and only while the listener is connected. Past
    ``max_bytes`` the oldest answers go first.

    The reads kept as ``repeatable`` are remembered too, each weighed as ``READ_WEIGHT`` and
    its key, within half as much memory again (the least recently kept go first), and no
    change forgets them: what they read is never served unless read again after the
    change.
    """

    def __init__(
        self,
        max_bytes: int,
        max_age: float,
        *,
        tables: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The tables (schema.name) the kept reads come from: a commit of this process that
        # wrote one of them forgets at once (kit.db).
        self.tables = frozenset(tables)
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._clock = clock
        self._entries: dict[Hashable, tuple[Any, int, float]] = {}
        self._bytes = 0
        self._reads: dict[Hashable, _Remembered] = {}
        self._read_bytes = 0
        self.max_read_bytes = max_bytes // 2
        self._generation = 0
        # Until when the listener is known to be connected (its last check, plus a margin).
        self._live_until = 0.0
        self.hits = 0
        self.misses = 0
        self.changes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def listening(self) -> bool:
        """The listener is connected and was checked moments ago. Nothing is served from
        memory otherwise: a connection that died silently is distrusted within a second."""
        return time.monotonic() < self._live_until

    @listening.setter
    def listening(self, value: bool) -> None:
        # For tests and for the listener itself: True until told otherwise.
        self._live_until = float("inf") if value else 0.0

    def _checked(self, margin: float) -> None:
        self._live_until = time.monotonic() + margin

    def changed(self) -> None:
        """Something the kept reads come from has changed: forget them all."""
        self._generation += 1
        self.changes += 1
        self._entries.clear()
        self._bytes = 0

    def get(self, key: Hashable) -> Any:
        """The answer kept for ``key``, or ``kit.fresh.MISSING``."""
        if not self.listening:
            return MISSING
        entry = self._entries.get(key)
        if entry is None:
            return MISSING
        value, size, at = entry
        if self._clock() - at > self.max_age:
            del self._entries[key]
            self._bytes -= size
            return MISSING
        return value

    async def kept(
        self,
        key: Hashable,
        read: Callable[[], Awaitable[T]],
        weigh: Callable[[T], int] | None = None,
        *,
        repeatable: bool = False,
    ) -> T:
        """``read()``'s answer, from memory when it has it. ``repeatable``: ``read`` depends
        on nothing but ``key`` (no caller, no request), so that ``renewed(key)`` may call it
        again once the answer is forgotten."""
        value = self.get(key)
        if value is not MISSING:
            self.hits += 1
            return value  # type: ignore[no-any-return]
        self.misses += 1
        generation = self._generation
        value = await read()
        if self.listening and generation == self._generation and self.max_bytes > 0:
            weight = weigh or _weight
            if self._put(key, value, weight(value) + _key_weight(key)) and repeatable:
                self._remember(key, _Remembered(read, weight, READ_WEIGHT + _key_weight(key)))
        return value

    async def renewed(self, key: Hashable) -> Any:
        """``key``'s answer as ``kept`` gives it (from memory, or read again) by the
        repeatable read that last kept it; ``MISSING`` when no such read is remembered."""
        remembered = self._reads.get(key)
        if remembered is None:
            return MISSING
        return await self.kept(key, remembered.read, remembered.weigh, repeatable=True)

    def _remember(self, key: Hashable, remembered: _Remembered) -> None:
        old = self._reads.pop(key, None)
        if old is not None:
            self._read_bytes -= old.size
        while self._reads and self._read_bytes + remembered.size > self.max_read_bytes:
            self._read_bytes -= self._reads.pop(next(iter(self._reads))).size
        if remembered.size <= self.max_read_bytes:
            self._reads[key] = remembered
            self._read_bytes += remembered.size

    def _put(self, key: Hashable, value: Any, size: int) -> bool:
        if size > self.max_bytes // 8:
            return False  # one answer may not push out most of the others
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
        while self._entries and self._bytes + size > self.max_bytes:
            oldest = next(iter(self._entries))
            self._bytes -= self._entries.pop(oldest)[1]
        self._entries[key] = (value, size, self._clock())
        self._bytes += size
        return True

    async def listen(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        channel: str,
        *,
        check_every: float = 0.5,
        retry_after: float = 0.5,
    ) -> None:
        """Listen on ``channel`` until cancelled, reconnecting when the connection is lost.

        Connected, every notification forgets what was kept; the connection is checked
        every ``check_every`` seconds, and unless a check succeeded within the last two
        intervals nothing is served from memory (a connection cut without a word, say).
        """
        margin = 2 * check_every
        backoff = retry_after
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await connect()
                lost = asyncio.Event()
                conn.add_termination_listener(functools.partial(_set, lost))
                await conn.add_listener(channel, self._notified)
                # Whatever was read before LISTEN took effect may predate a change not heard.
                self.changed()
                self._checked(margin)
                backoff = retry_after
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), check_every)
                    if not lost.is_set():
                        await conn.fetchval("SELECT 1", timeout=check_every)
                        self._checked(margin)
                log.warning("change listener lost its connection; reads go to the database")
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                log.warning("change listener not connected (%s); reads go to the database", err)
            except Exception:
                log.exception("change listener failed; reads go to the database")
            finally:
                self.listening = False
                self.changed()
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    def _notified(self, *_args: Any) -> None:
        self.changed()


@dataclass(frozen=True, slots=True)
class _Remembered:
    """A repeatable read, how its answer is weighed, and what remembering it costs."""

    read: Callable[[], Awaitable[Any]]
    weigh: Callable[[Any], int]
    size: int


@dataclass(frozen=True)
class Watched:
    """What a service's kept reads come from: the channel its migrations notify, and the
    tables (``schema.name``) whose triggers notify it."""

    channel: str
    tables: tuple[str, ...]


def _set(event: asyncio.Event, *_args: Any) -> None:
    event.set()
