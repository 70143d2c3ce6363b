"""Small reads of one shape, asked at about the same time, answered by one statement.

Under load the read cache's misses come in bursts: when a process starts, when a change
empties the cache (``kit.fresh``), as answers age out. Each miss on its own borrows a pooled
connection for a round trip, and with more misses than connections they queue for the pool
while the cached answers keep the event loop busy. Measured with ``bench.lookup`` (100,000
titles, 64 connections, the cache emptied, then 5,000 keys asked at random): a p99 of
180-200 ms with the 10 connections the service has by default, 33 ms with 30.

``Batches.load`` gathers the keys of one shape asked for in the same turn of the event loop
and reads them with one statement on one connection; every caller gets its own key's answer.
While a statement is out, new keys gather for the next one. Equal keys are read once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

ReadMany = Callable[[Sequence[K]], Awaitable[Mapping[K, V]]]


class _Batch(Generic[K, V]):
    __slots__ = ("read_many", "waiting")

    def __init__(self, read_many: ReadMany[K, V]) -> None:
        self.read_many = read_many
        # Each caller waits on a future of its own: one going away cancels only its own.
        self.waiting: dict[K, list[asyncio.Future[V]]] = {}


class Batches:
    """The open batch of each shape, per process.

    A shape names everything the statement depends on besides the keys (which lookup, the
    page size...): keys of one shape must be answerable by one ``read_many``. At most
    ``max_keys`` keys go in one statement; past that a new batch opens.
    """

    def __init__(self, max_keys: int = 200) -> None:
        self.max_keys = max_keys
        self._open: dict[Hashable, _Batch[Any, Any]] = {}
        self._running: set[asyncio.Task[None]] = set()
        # Statements sent and keys they carried: the keys a statement carries on average.
        self.statements = 0
        self.keys = 0

    async def load(self, shape: Hashable, key: K, read_many: ReadMany[K, V], missing: V) -> V:
        """``key``'s answer from ``read_many``, which is given every key of the batch and
        returns the answers it found; a key it has no answer for gets ``missing``.

        A caller that goes away (a cancelled request) leaves the statement to the others.
        An error of the statement is every waiting caller's error.
        """
        loop = asyncio.get_running_loop()
        batch = self._open.get(shape)
        if batch is None or len(batch.waiting) >= self.max_keys:
            batch = _Batch(read_many)
            self._open[shape] = batch
            # The statement goes out when the task first runs, at the loop's next turn: the
            # keys asked for until then (the other requests of this turn) go with it.
            task = loop.create_task(self._read(shape, batch, missing))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        future: asyncio.Future[V] = loop.create_future()
        batch.waiting.setdefault(key, []).append(future)
        return await future

    async def _read(self, shape: Hashable, batch: _Batch[Any, Any], missing: Any) -> None:
        if self._open.get(shape) is batch:
            del self._open[shape]
        keys = list(batch.waiting)
        self.statements += 1
        self.keys += len(keys)
        futures = [f for waiting in batch.waiting.values() for f in waiting]
        try:
            found = await batch.read_many(keys)
            answers = {key: found.get(key, missing) for key in batch.waiting}
        except Exception as err:  # every waiting caller's error: they map it to a problem
            for future in futures:
                if not future.done():
                    future.set_exception(err)
            return
        except BaseException:  # cancelled (shutdown): no caller is left waiting
            for future in futures:
                future.cancel()
            raise
        for key, waiting in batch.waiting.items():
            for future in waiting:
                if not future.done():
                    future.set_result(answers[key])
