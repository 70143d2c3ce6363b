"""Exclusions in force on a day: what ranking reads before each run."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.pagination import Page, paginate
from services.oversight.exclusions import repository
from services.oversight.exclusions.schemas import ExclusionOut
from services.oversight.models import Exclusion


def view(exclusion: Exclusion) -> ExclusionOut:
    return ExclusionOut.model_validate(exclusion, from_attributes=True)


async def in_force(
    session: AsyncSession, on: date, uscc: str | None, cursor: str | None, limit: int
) -> Page[ExclusionOut]:
    return await paginate(
        session,
        repository.in_force(on, uscc),
        [Exclusion.uscc, Exclusion.id],
        cursor,
        limit,
        item=view,
        scalars=True,
    )
