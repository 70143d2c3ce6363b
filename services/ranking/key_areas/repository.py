"""Queries of key areas."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.models import KeyArea


async def get(
    session: AsyncSession, key_area_id: uuid.UUID, *, lock: bool = False
) -> KeyArea | None:
    stmt = select(KeyArea).where(KeyArea.id == key_area_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def existing_ids(session: AsyncSession, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await session.execute(select(KeyArea.id).where(KeyArea.id.in_(ids)))
    return set(rows.scalars())


def listing(year: int | None, level: str | None, category: str | None) -> Select[Any]:
    stmt = select(KeyArea)
    if year is not None:
        stmt = stmt.where(KeyArea.year == year)
    if level is not None:
        stmt = stmt.where(KeyArea.level == level)
    if category is not None:
        stmt = stmt.where(KeyArea.categories.contains([category]))
    return stmt
