"""Queries of plans, their versions and reviews."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.models import Plan, PlanReview, PlanVersion


async def get(session: AsyncSession, plan_id: uuid.UUID, *, lock: bool = False) -> Plan | None:
    stmt = select(Plan).where(Plan.id == plan_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def version(
    session: AsyncSession, plan_id: uuid.UUID, n: int, *, lock: bool = False
) -> PlanVersion | None:
    stmt = select(PlanVersion).where(PlanVersion.plan_id == plan_id, PlanVersion.n == n)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def version_by_notice(session: AsyncSession, notice_id: str) -> PlanVersion | None:
    stmt = select(PlanVersion).where(PlanVersion.notice_id == notice_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def approvals(session: AsyncSession, plan_id: uuid.UUID, n: int) -> int:
    stmt = select(func.count()).where(
        PlanReview.plan_id == plan_id, PlanReview.n == n, PlanReview.verdict == "approve"
    )
    return int((await session.execute(stmt)).scalar_one())


async def reviewed(session: AsyncSession, plan_id: uuid.UUID, n: int, expert_id: uuid.UUID) -> bool:
    stmt = select(PlanReview.id).where(
        PlanReview.plan_id == plan_id, PlanReview.n == n, PlanReview.expert_id == expert_id
    )
    return (await session.execute(stmt)).first() is not None


def listing(
    visible: ColumnElement[bool],
    key_area_id: uuid.UUID | None,
    evaluator_id: uuid.UUID | None,
    state: str | None,
) -> Select[Any]:
    stmt = select(Plan).where(visible)
    if key_area_id is not None:
        stmt = stmt.where(Plan.key_area_id == key_area_id)
    if evaluator_id is not None:
        stmt = stmt.where(Plan.evaluator_id == evaluator_id)
    if state is not None:
        stmt = stmt.where(Plan.latest_state == state)
    return stmt


def versions(plan_id: uuid.UUID, states: frozenset[str] | None) -> Select[Any]:
    stmt = select(PlanVersion).where(PlanVersion.plan_id == plan_id)
    if states is not None:
        stmt = stmt.where(PlanVersion.state.in_(states))
    return stmt


def reviews(plan_id: uuid.UUID) -> Select[Any]:
    return select(PlanReview).where(PlanReview.plan_id == plan_id)
