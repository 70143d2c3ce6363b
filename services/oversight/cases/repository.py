"""Queries of cases, their history and answers."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.oversight.models import Case, CaseEvent, CaseResponse, Complaint, Inspection


async def get(
    session: AsyncSession, case_id: uuid.UUID, *, for_update: bool = False
) -> Case | None:
    stmt = select(Case).where(Case.id == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def listing(
    visible: ColumnElement[bool],
    *,
    state: str | None,
    overdue_on: date | None,
    respondent: str | None,
) -> Select[Any]:
    stmt = select(Case).where(visible)
    if state:
        stmt = stmt.where(Case.state == state)
    if overdue_on is not None:
        stmt = stmt.where(Case.due_on < overdue_on)
    if respondent:
        stmt = stmt.where(Case.respondent_uscc == respondent)
    return stmt


async def descriptions(session: AsyncSession, cases: list[Case]) -> dict[uuid.UUID, str]:
    """What each case is about, by case id: the complaint's description or the finding."""
    complaint_ids = [c.complaint_id for c in cases if c.complaint_id]
    inspection_ids = [c.inspection_id for c in cases if c.inspection_id]
    by_origin: dict[uuid.UUID, str] = {}
    if complaint_ids:
        rows = await session.execute(
            select(Complaint.id, Complaint.description).where(Complaint.id.in_(complaint_ids))
        )
        by_origin.update({row.id: row.description for row in rows})
    if inspection_ids:
        found = await session.execute(select(Inspection).where(Inspection.id.in_(inspection_ids)))
        for finding in found.scalars():
            unit = f" {finding.unit}" if finding.unit else ""
            by_origin[finding.id] = (
                f"{finding.lab} report {finding.report_no}: {finding.indicator} measured "
                f"{finding.measured:g}{unit} on {finding.tested_on}, short of the disclosed value"
            )
    out: dict[uuid.UUID, str] = {}
    for case in cases:
        origin = case.complaint_id or case.inspection_id
        if origin is not None and origin in by_origin:
            out[case.id] = by_origin[origin]
    return out


async def history(session: AsyncSession, case_id: uuid.UUID) -> list[CaseEvent]:
    rows = await session.execute(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    )
    return list(rows.scalars())


async def responses(session: AsyncSession, case_id: uuid.UUID) -> list[CaseResponse]:
    rows = await session.execute(
        select(CaseResponse).where(CaseResponse.case_id == case_id).order_by(CaseResponse.at)
    )
    return list(rows.scalars())


async def claim_newly_overdue(session: AsyncSession, today: date, limit: int) -> list[Case]:
    """Cases past their deadline not yet flagged, locked for this replica alone."""
    rows = await session.execute(
        select(Case)
        .where(Case.due_on < today, Case.overdue_flagged_at.is_(None))
        .order_by(Case.due_on, Case.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars())
