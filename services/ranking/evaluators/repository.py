"""Queries of evaluation bodies and experts."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.models import Evaluator, Expert


async def get(
    session: AsyncSession, evaluator_id: uuid.UUID, *, lock: bool = False
) -> Evaluator | None:
    stmt = select(Evaluator).where(Evaluator.id == evaluator_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def by_uscc(session: AsyncSession, uscc: str) -> Evaluator | None:
    stmt = select(Evaluator).where(Evaluator.uscc == uscc)
    return (await session.execute(stmt)).scalar_one_or_none()


def listing(status: str | None) -> Select[Any]:
    stmt = select(Evaluator)
    if status is not None:
        stmt = stmt.where(Evaluator.status == status)
    return stmt


async def expert_by_subject(session: AsyncSession, subject: str) -> Expert | None:
    stmt = select(Expert).where(Expert.subject == subject)
    return (await session.execute(stmt)).scalar_one_or_none()


def experts() -> Select[Any]:
    return select(Expert)
