"""Queries of runs and their stored results."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Integer, Select, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.models import Run, RunResult, RunSnapshot
from services.ranking.runs.snapshot import ROW_COLUMNS, Row


async def get(session: AsyncSession, run_id: uuid.UUID, *, lock: bool = False) -> Run | None:
    stmt = select(Run).where(Run.id == run_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def claim(session: AsyncSession, lease_seconds: float) -> Run | None:
    """Take the oldest queued run, or a running one whose replica's lease ran out.

    ``SKIP LOCKED``: replicas claiming at the same moment each get a different run.
    """
    due = (
        select(Run.id)
        .where(
            (Run.state == "queued") | ((Run.state == "running") & (Run.lease_until < func.now()))
        )
        .order_by(Run.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(Run)
        .where(Run.id == due)
        .values(
            state="running",
            attempts=Run.attempts + 1,
            started_at=func.now(),
            lease_until=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds),
        )
        .returning(Run)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def snapshot(session: AsyncSession, run_id: uuid.UUID) -> RunSnapshot | None:
    return await session.get(RunSnapshot, run_id)


async def store_rows(session: AsyncSession, run_id: uuid.UUID, rows: Sequence[Row]) -> None:
    """All rows in one COPY, inside the caller's transaction. The driver takes the ids as
    text and the JSON columns as text, made by pydantic's encoder (the slow part of a large
    COPY was Python's json encoder called per cell)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    records = [
        (
            run_id,
            r.standard_id,
            r.category,
            r.position,
            r.standard_no,
            r.standard_version,
            r.uscc,
            r.enterprise_name,
            r.eligible,
            r.score,
            r.rank,
            r.tied,
            r.selected,
            to_json(r.tiers).decode(),
            to_json(r.reasons).decode(),
        )
        for r in rows
    ]
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        RunResult.__tablename__,
        schema_name="ranking",
        columns=["run_id", *ROW_COLUMNS],
        records=records,
    )


async def stored_rows(session: AsyncSession, run_id: uuid.UUID) -> list[Row]:
    stmt = select(*(getattr(RunResult, c) for c in ROW_COLUMNS)).where(RunResult.run_id == run_id)
    out = []
    for r in await session.execute(stmt):
        values = list(r)
        values[0] = str(values[0])
        out.append(Row(*values))
    return out


def ranking(run_id: uuid.UUID, category: str | None) -> Select[Any]:
    stmt = select(RunResult).where(RunResult.run_id == run_id)
    if category is not None:
        stmt = stmt.where(RunResult.category == category)
    return stmt


def tier_expr(indicator: str) -> Any:
    return cast(RunResult.tiers[indicator].astext, Integer).label("tier")


def tier_list(run_id: uuid.UUID, category: str, tier: Any) -> Select[Any]:
    """One indicator's tier list (分档名单): rows with a tier on it, as plain columns."""
    columns = [c for c in RunResult.__table__.columns if c.key != "run_id"]
    return select(*columns, tier).where(
        RunResult.run_id == run_id, RunResult.category == category, tier.is_not(None)
    )


async def result_of(
    session: AsyncSession, run_id: uuid.UUID, standard_id: uuid.UUID
) -> RunResult | None:
    return await session.get(RunResult, (run_id, standard_id))


async def latest_succeeded(session: AsyncSession, plan_id: uuid.UUID) -> Run | None:
    stmt = (
        select(Run)
        .where(Run.plan_id == plan_id, Run.state == "succeeded")
        .order_by(Run.finished_at.desc(), Run.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def runs_of(plan_id: uuid.UUID) -> Select[Any]:
    return select(Run).where(Run.plan_id == plan_id)
