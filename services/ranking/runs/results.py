"""Engine results of succeeded runs, rebuilt from their stored snapshots and kept in memory.

A succeeded run never changes, so a cached result can not go stale; explanations and 对标
read from it instead of re-ranking a category on every request.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.problems import NotFound
from services.ranking import engine
from services.ranking.runs import repository
from services.ranking.runs import snapshot as snap

Entry = tuple[dict[str, Any], engine.EngineResult]


def rerank(body: bytes) -> Entry:
    """Snapshot bytes to the snapshot and a fresh engine result (CPU: call in a thread)."""
    snapshot = snap.unpack(body)
    return snapshot, engine.rank(snap.batch(snapshot))


class ResultCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[uuid.UUID, Entry] = OrderedDict()

    def put(self, run_id: uuid.UUID, snapshot: dict[str, Any], result: engine.EngineResult) -> None:
        if self.size <= 0:
            return
        self._items[run_id] = (snapshot, result)
        self._items.move_to_end(run_id)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    async def get(self, session: AsyncSession, run_id: uuid.UUID) -> Entry:
        hit = self._items.get(run_id)
        if hit is not None:
            self._items.move_to_end(run_id)
            return hit
        stored = await repository.snapshot(session, run_id)
        if stored is None:
            raise NotFound("the run has no stored snapshot")
        snapshot, result = await asyncio.to_thread(rerank, stored.body)
        self.put(run_id, snapshot, result)
        return snapshot, result
