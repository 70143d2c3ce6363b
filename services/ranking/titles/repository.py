"""Queries of titles and their history (the ORM side; the public lookup is in reads.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.models import Title, TitleEvent

LIVE = ("active", "suspended")


async def get(session: AsyncSession, title_id: uuid.UUID, *, lock: bool = False) -> Title | None:
    stmt = select(Title).where(Title.id == title_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def history(session: AsyncSession, title_id: uuid.UUID) -> list[TitleEvent]:
    stmt = select(TitleEvent).where(TitleEvent.title_id == title_id).order_by(TitleEvent.id)
    return list((await session.execute(stmt)).scalars())


async def live_of_standards(
    session: AsyncSession, standard_ids: Iterable[uuid.UUID]
) -> list[Title]:
    """Active or suspended titles of these standards, locked: the feed changes them."""
    ids = list(set(standard_ids))
    if not ids:
        return []
    stmt = (
        select(Title)
        .where(Title.standard_id.in_(ids), Title.status.in_(LIVE))
        .order_by(Title.id)
        .with_for_update()
    )
    return list((await session.execute(stmt)).scalars())


async def claim_ended(session: AsyncSession, today: date, limit: int) -> list[Title]:
    """Live titles whose cycle ended before ``today``; ``SKIP LOCKED`` across replicas."""
    stmt = (
        select(Title)
        .where(Title.status.in_(LIVE), Title.valid_until < today)
        .order_by(Title.valid_until, Title.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(stmt)).scalars())


def event(
    title: Title,
    status: str,
    reason: str,
    source: str,
    at: datetime,
    *,
    reference: str | None = None,
    actor: str | None = None,
) -> TitleEvent:
    return TitleEvent(
        title_id=title.id,
        status=status,
        reason=reason[:5000],
        source=source,
        reference=reference,
        actor=actor,
        at=at,
    )
