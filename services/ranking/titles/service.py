"""Forerunner titles (领跑者称号): granting, every status change with its history, revocation,
the body's review of a suspension, and expiry at the end of the cycle.

A title moves active ⇄ suspended, and ends expired or revoked. Revoked is final: nothing
brings it back. Every change is one history row (status, reason, source, reference, time).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit import audit
from services.kit.auth import Principal
from services.kit.preconditions import Precondition
from services.kit.problems import Conflict, NotFound
from services.kit.workdays import today_shanghai
from services.ranking import policy
from services.ranking.models import KeyArea, Shortlist, ShortlistEntry, Title, kit_tables
from services.ranking.plans.schemas import PlanContent
from services.ranking.titles import repository
from services.ranking.titles.schemas import Review, Revocation, TitleEventOut, TitleOut

FINAL = frozenset({"expired", "revoked"})


def move(
    session: AsyncSession,
    title: Title,
    status: str,
    reason: str,
    source: str,
    at: datetime,
    *,
    reference: str | None = None,
    actor: str | None = None,
    pending_review: bool = False,
) -> None:
    """One status change and its history row; a final status never moves again."""
    assert title.status != "revoked", "a revoked title never comes back"
    title.status = status
    title.status_reason = reason[:5000]
    title.pending_review = pending_review
    title.row_version += 1
    title.updated_at = func.now()
    session.add(
        repository.event(title, status, reason, source, at, reference=reference, actor=actor)
    )


def grant(
    session: AsyncSession,
    shortlist: Shortlist,
    entry: ShortlistEntry,
    content: PlanContent,
    area: KeyArea,
    at: datetime,
    notice_id: str,
) -> Title:
    """A title for the plan's cycle to a committed entry that survived publicity."""
    title = Title(
        id=uuid.uuid4(),
        entry_id=entry.id,
        shortlist_id=shortlist.id,
        run_id=shortlist.run_id,
        plan_id=shortlist.plan_id,
        plan_version=shortlist.plan_version,
        evaluator_id=shortlist.evaluator_id,
        key_area_id=area.id,
        year=area.year,
        level=area.level,
        category=entry.category,
        region=entry.region,
        uscc=entry.uscc,
        enterprise_name=entry.enterprise_name,
        standard_id=entry.standard_id,
        standard_no=entry.standard_no,
        standard_no_key=entry.standard_no_key,
        standard_version=entry.standard_version,
        barcodes=list(entry.barcodes),
        thresholds=entry.thresholds,
        status="active",
        status_reason="granted after publicity",
        pending_review=False,
        valid_from=content.cycle.valid_from,
        valid_until=content.cycle.valid_to,
        granted_at=at,
        row_version=1,
    )
    session.add(title)
    session.add(
        repository.event(
            title, "active", "granted after publicity", "publicity", at, reference=notice_id
        )
    )
    return title


def view(title: Title, history: list[TitleEventOut]) -> TitleOut:
    return TitleOut.model_validate({**_columns(title), "history": history})


def _columns(title: Title) -> dict[str, object]:
    return {c.key: getattr(title, c.key) for c in Title.__table__.columns}


async def get(session: AsyncSession, title_id: uuid.UUID) -> tuple[Title, TitleOut]:
    """Titles are public (领跑者名单), revoked ones too, with their history."""
    title = await repository.get(session, title_id)
    if title is None:
        raise NotFound("no such title")
    events = [TitleEventOut.model_validate(e) for e in await repository.history(session, title.id)]
    return title, view(title, events)


async def revoke(
    session: AsyncSession,
    principal: Principal,
    title_id: uuid.UUID,
    body: Revocation,
    now: datetime,
) -> Title:
    """撤销. Oversight's same decision delivered again changes nothing; any other revocation
    of a revoked title is a 409."""
    source = policy.require_revoker(principal, body.decision_id)
    title = await repository.get(session, title_id, lock=True)
    if title is None:
        raise NotFound("no such title")
    if title.status == "revoked":
        if body.decision_id is not None and title.revoked_by == body.decision_id:
            return title
        raise Conflict("the title is already revoked", code="already_revoked")
    reference = body.decision_id or body.case_id
    move(
        session,
        title,
        "revoked",
        body.reason,
        source,
        now,
        reference=reference,
        actor=principal.sub,
    )
    title.revoked_by = body.decision_id
    await session.flush()
    await audit.record(
        session,
        kit_tables,
        principal,
        "revoke",
        "title",
        str(title.id),
        {"decision_id": body.decision_id, "case_id": body.case_id},
    )
    return title


async def review(
    session: AsyncSession,
    principal: Principal,
    title_id: uuid.UUID,
    body: Review,
    precondition: Precondition,
    now: datetime,
) -> Title:
    """The body restores a title suspended pending review, or ends it (revoked, for good)."""
    title = policy.require_title_reviewer(
        principal, await repository.get(session, title_id, lock=True)
    )
    precondition.check(title.row_version)
    if title.status != "suspended" or not title.pending_review:
        raise Conflict(
            f"the title is {title.status}, not suspended pending review",
            code="not_pending_review",
        )
    if body.action == "restore":
        move(session, title, "active", body.reason, "review", now, actor=principal.sub)
    else:
        move(session, title, "revoked", body.reason, "review", now, actor=principal.sub)
    await session.flush()
    await audit.record(
        session, kit_tables, principal, f"review_{body.action}", "title", str(title.id)
    )
    return title


async def expire_step(app: Any) -> int:
    """End of the cycle: live titles past ``valid_until`` expire (every replica runs this)."""
    now = app.state.clock.now()
    async with app.state.db.sessionmaker() as session, session.begin():
        ended = await repository.claim_ended(session, today_shanghai(now), 200)
        for title in ended:
            reason = f"the cycle ended on {title.valid_until.isoformat()}"
            move(session, title, "expired", reason, "cycle", now)
    return len(ended)
