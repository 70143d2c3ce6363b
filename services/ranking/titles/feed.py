"""Dynamic adjustment (动态调整): ranking follows the registry's change feed.

One consumer at a time across replicas (a transaction-scoped advisory lock); the cursor is
stored in the same transaction as the changes it covers, so a crash or restart resumes exactly
after the last change applied, never missing or repeating one. A titled standard withdrawn or
superseded suspends its title with the registry's reason; a new version whose core indicator
is below the plan's baseline or out of the title's tier suspends it pending the body's review.
A registry that cannot be read rolls the round back: the same page is read again next time.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clients.registry import ChangeRecord, RegistryClient
from services.kit.http import ServiceNotFound
from services.ranking.models import FeedCursor, Title
from services.ranking.runs.snapshot import committed
from services.ranking.shortlists.facts import shortfall
from services.ranking.titles import repository
from services.ranking.titles.service import move

log = logging.getLogger("forerunner.ranking.feed")

FEED = "registry"
# pg advisory lock key of the registry feed consumer (any constant unique in the database).
LOCK_KEY = 0x52414E4B_0001
PAGE = 200
WATCHED = frozenset({"standard.withdrawn", "standard.versioned"})
STATUS_WORD = {"abolished": "abolished (废止)", "superseded": "superseded (被替代)"}


async def _withdrawn(
    session: AsyncSession,
    registry: RegistryClient,
    change: ChangeRecord,
    titles: list[Title],
    at: datetime,
) -> int:
    record = await registry.get_standard(str(change.standard_id))
    word = STATUS_WORD.get(record.status, record.status)
    reason = f"the registry lists the standard as {word}"
    if record.withdrawn_reason:
        reason += f": {record.withdrawn_reason}"
    changed = 0
    for title in titles:
        if title.status == "active" or title.pending_review:
            move(session, title, "suspended", reason, "registry", at, reference=change.cursor)
            changed += 1
    return changed


async def _versioned(
    session: AsyncSession,
    registry: RegistryClient,
    change: ChangeRecord,
    titles: list[Title],
    at: datetime,
) -> int:
    due = [t for t in titles if t.status == "active" and (change.version or 0) > t.standard_version]
    if not due:
        return 0
    version = await registry.get_version(str(change.standard_id), change.version or 0)
    changed = 0
    for title in due:
        values: dict[str, float | None] = {}
        declared = {i.code: i for i in version.content.indicators if i.code}
        for code, t in title.thresholds.items():
            ind = declared.get(code)
            comparable = ind is not None and (ind.unit is None or ind.unit == t.get("unit"))
            values[code] = (
                committed(ind.operator, ind.value, ind.value_min, ind.value_max, t["direction"])
                if comparable and ind
                else None
            )
        why = shortfall(title.thresholds, values)
        if why is not None:
            reason = f"version {version.n}: {why}; pending review by the evaluation body"
            move(
                session,
                title,
                "suspended",
                reason,
                "registry",
                at,
                reference=change.cursor,
                pending_review=True,
            )
            changed += 1
    return changed


async def consume(session: AsyncSession, registry: RegistryClient, at: datetime) -> int | None:
    """One page of the feed, applied; None when another replica is the consumer right now."""
    locked = await session.execute(select(func.pg_try_advisory_xact_lock(LOCK_KEY)))
    if not locked.scalar_one():
        return None
    state = await session.get(FeedCursor, FEED, with_for_update=True)
    if state is None:
        state = FeedCursor(feed=FEED, cursor=None, changes_seen=0)
        session.add(state)
    page = await registry.changes(state.cursor, PAGE)
    watched = [c for c in page.items if c.kind in WATCHED and c.standard_id is not None]
    ids = [c.standard_id for c in watched if c.standard_id is not None]
    live = await repository.live_of_standards(session, ids)
    by_standard: dict[Any, list[Title]] = defaultdict(list)
    for title in live:
        by_standard[title.standard_id].append(title)
    for change in watched:
        titles = by_standard.get(change.standard_id)
        if not titles:
            continue
        try:
            if change.kind == "standard.withdrawn":
                await _withdrawn(session, registry, change, titles, at)
            else:
                await _versioned(session, registry, change, titles, at)
        except ServiceNotFound:
            log.warning("change %s names a standard the registry no longer shows", change.cursor)
    if page.items:
        state.cursor = page.next_cursor or page.items[-1].cursor
        state.changes_seen += len(page.items)
        state.updated_at = func.now()
    return len(page.items)


async def feed_step(app: Any) -> int:
    """A background step of every replica: how many changes this round applied."""
    async with app.state.db.sessionmaker() as session, session.begin():
        done = await consume(session, app.state.registry, app.state.clock.now())
    return done or 0
