"""Queries of enterprises on the write path: their state, locked, and their bulk writes.

Lock order, everywhere: enterprise, then standard. A block (which hides its standards) or a
rename (which re-indexes them) takes the enterprise FOR UPDATE; a write of one of its
standards takes it at least FOR SHARE, so the two wait for each other and a standard can
neither slip out public during a block nor keep a stale search index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import Enterprise
from services.registry.standards.plan import EnterpriseState

_STATE = (
    Enterprise.uscc,
    Enterprise.name,
    Enterprise.region,
    Enterprise.industry_code,
    Enterprise.address,
    Enterprise.blocked,
    Enterprise.uscc_exception,
    Enterprise.row_version,
)


async def lock_states(
    session: AsyncSession, usccs: Iterable[str], *, for_update: bool
) -> dict[str, EnterpriseState]:
    """The enterprises among ``usccs``, locked FOR UPDATE (to change them) or FOR SHARE."""
    wanted = set(usccs)
    if not wanted:
        return {}
    stmt = select(*_STATE).where(Enterprise.uscc.in_(wanted)).with_for_update(read=not for_update)
    return {row.uscc: EnterpriseState(*row) for row in await session.execute(stmt)}


async def insert_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert enterprises unless already there; the codes of those inserted.

    One may register itself between the caller's look-up and this insert: then its own
    record stands.
    """
    if not rows:
        return set()
    stmt = (
        insert(Enterprise)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=[Enterprise.uscc])
        .returning(Enterprise.uscc)
    )
    return set((await session.execute(stmt)).scalars())


async def update_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Updates by code, in one executemany."""
    if rows:
        await session.execute(update(Enterprise), list(rows))
