"""Queries of shortlists and their entries."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.models import RunResult, Shortlist, ShortlistEntry


async def get(
    session: AsyncSession, shortlist_id: uuid.UUID, *, lock: bool = False
) -> Shortlist | None:
    stmt = select(Shortlist).where(Shortlist.id == shortlist_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def of_run(session: AsyncSession, run_id: uuid.UUID) -> Shortlist | None:
    stmt = select(Shortlist).where(Shortlist.run_id == run_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def by_notice(session: AsyncSession, notice_id: str) -> Shortlist | None:
    stmt = select(Shortlist).where(Shortlist.notice_id == notice_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def entry(
    session: AsyncSession, entry_id: uuid.UUID, *, lock: bool = False
) -> ShortlistEntry | None:
    stmt = select(ShortlistEntry).where(ShortlistEntry.id == entry_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def entries(
    session: AsyncSession, shortlist_id: uuid.UUID, *, lock: bool = False
) -> list[ShortlistEntry]:
    stmt = (
        select(ShortlistEntry)
        .where(ShortlistEntry.shortlist_id == shortlist_id)
        .order_by(ShortlistEntry.category, ShortlistEntry.standard_no, ShortlistEntry.id)
    )
    if lock:
        stmt = stmt.with_for_update()
    return list((await session.execute(stmt)).scalars())


async def pending(session: AsyncSession, shortlist_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(
        ShortlistEntry.shortlist_id == shortlist_id, ShortlistEntry.state == "pending"
    )
    return int((await session.execute(stmt)).scalar_one())


async def selected_rows(session: AsyncSession, run_id: uuid.UUID) -> list[RunResult]:
    stmt = (
        select(RunResult)
        .where(RunResult.run_id == run_id, RunResult.selected.is_(True))
        .order_by(RunResult.category, RunResult.position)
    )
    return list((await session.execute(stmt)).scalars())


async def tiers_of_run(session: AsyncSession, run_id: uuid.UUID) -> list[tuple[str, str, Any]]:
    """(standard_id, category, tiers) of every eligible row: the tier bands of the run."""
    stmt = select(RunResult.standard_id, RunResult.category, RunResult.tiers).where(
        RunResult.run_id == run_id, RunResult.eligible.is_(True)
    )
    return [(str(r[0]), r[1], r[2]) for r in await session.execute(stmt)]


async def claim_overdue(session: AsyncSession, today: date, limit: int) -> list[Shortlist]:
    """Shortlists still answering past their deadline. ``SKIP LOCKED``: each replica takes
    different ones, and a shortlist being answered right now is left for the next round."""
    stmt = (
        select(Shortlist)
        .where(Shortlist.state == "answering", Shortlist.deadline < today)
        .order_by(Shortlist.deadline, Shortlist.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(stmt)).scalars())


async def lapse_pending(session: AsyncSession, shortlist_id: uuid.UUID, reason: str) -> int:
    stmt = (
        update(ShortlistEntry)
        .where(ShortlistEntry.shortlist_id == shortlist_id, ShortlistEntry.state == "pending")
        .values(state="lapsed", outcome_reason=reason, row_version=ShortlistEntry.row_version + 1)
    )
    result = await session.execute(stmt)
    return int(result.rowcount)  # type: ignore[attr-defined]


def of_enterprise(uscc: str | None) -> Select[Any]:
    stmt = select(ShortlistEntry)
    if uscc is not None:
        stmt = stmt.where(ShortlistEntry.uscc == uscc)
    return stmt
