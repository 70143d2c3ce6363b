"""Queries of complaints, their evidence, and the anonymous filing counter."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.oversight.models import Case, Complaint, Evidence, RateCounter


async def by_tracking_no(session: AsyncSession, tracking_no: str) -> Complaint | None:
    return (
        await session.execute(select(Complaint).where(Complaint.tracking_no == tracking_no))
    ).scalar_one_or_none()


async def evidence_of(session: AsyncSession, complaint_ids: list[uuid.UUID]) -> list[Evidence]:
    if not complaint_ids:
        return []
    rows = await session.execute(
        select(Evidence)
        .where(Evidence.complaint_id.in_(complaint_ids))
        .order_by(Evidence.complaint_id, Evidence.filename, Evidence.id)
    )
    return list(rows.scalars())


async def cases_of(session: AsyncSession, complaint_ids: list[uuid.UUID]) -> list[Case]:
    if not complaint_ids:
        return []
    rows = await session.execute(select(Case).where(Case.complaint_id.in_(complaint_ids)))
    return list(rows.scalars())


def listing(visible: ColumnElement[bool]) -> Select[Any]:
    return select(Complaint).where(visible)


async def count_filing(session: AsyncSession, bucket: str, window_start: datetime) -> int:
    """Count one filing in the client's window; the row lock serialises a client's filings
    across replicas until the request commits (or rolls back, uncounting a refused one)."""
    stmt = (
        insert(RateCounter)
        .values(bucket=bucket, window_start=window_start, hits=1)
        .on_conflict_do_update(
            index_elements=[RateCounter.bucket, RateCounter.window_start],
            set_={"hits": RateCounter.hits + 1},
        )
        .returning(RateCounter.hits)
    )
    return int((await session.execute(stmt)).scalar_one())


async def forget_windows_before(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(RateCounter).where(RateCounter.window_start < before))
    return int(getattr(result, "rowcount", 0) or 0)
