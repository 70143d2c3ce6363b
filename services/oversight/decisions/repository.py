"""Queries behind decisions and publicity outcomes."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.oversight.models import Case, Notice, PublicityWindow


async def claim_closed_windows(
    session: AsyncSession, today: date, limit: int
) -> list[PublicityWindow]:
    """Closed windows not yet reported, locked for this replica alone."""
    rows = await session.execute(
        select(PublicityWindow)
        .where(PublicityWindow.closes_on < today, PublicityWindow.reported_at.is_(None))
        .order_by(PublicityWindow.closes_on, PublicityWindow.notice_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars())


async def objections_to(session: AsyncSession, notice_id: uuid.UUID) -> list[Case]:
    rows = await session.execute(
        select(Case).where(Case.notice_id == notice_id).order_by(Case.created_at, Case.id)
    )
    return list(rows.scalars())


async def notice(session: AsyncSession, notice_id: uuid.UUID) -> Notice:
    found = (await session.execute(select(Notice).where(Notice.id == notice_id))).scalar_one()
    return found
