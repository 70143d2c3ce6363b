"""Queries of inspection findings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.oversight.models import Case, Inspection


async def by_report(session: AsyncSession, lab: str, report_no: str) -> Inspection | None:
    return (
        await session.execute(
            select(Inspection).where(Inspection.lab == lab, Inspection.report_no == report_no)
        )
    ).scalar_one_or_none()


async def case_of(session: AsyncSession, inspection: Inspection) -> Case | None:
    return (
        await session.execute(select(Case).where(Case.inspection_id == inspection.id))
    ).scalar_one_or_none()
