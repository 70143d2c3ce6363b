"""What a decision sets in motion (处理决定), and the outcome of closed publicity windows.

An upheld case against a title revokes it through ranking (the outbox, keyed by the decision
id, so it arrives however long ranking is down) and posts a revocation notice; an upheld fraud
case excludes the enterprise for a configured time. When a publicity window has closed and
every objection against its notice is settled, its outcome goes to ranking the same way.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.clients import ranking
from services.kit.auth import Principal
from services.kit.outbox import enqueue
from services.kit.workdays import WorkdayCalendar, today_shanghai
from services.oversight.decisions import repository
from services.oversight.models import Case, Decision, Exclusion, kit_tables
from services.oversight.notices import service as notices
from services.oversight.notices.schemas import NoticeCreate, NoticeKind, Subject
from services.oversight.settings import OversightSettings

RANKING = "ranking"
SETTLED = frozenset({"rejected", "decided", "closed"})


async def decide(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    outcome: str,
    reasons: str,
    *,
    now: datetime,
    calendar: WorkdayCalendar,
    settings: OversightSettings,
) -> Decision:
    decision = Decision(
        id=uuid.uuid4(),
        case_id=case.id,
        outcome=outcome,
        reasons=reasons,
        decided_at=now,
        decided_by=principal.sub,
    )
    session.add(decision)
    await session.flush()
    if outcome != "upheld":
        return decision
    if case.title_id:
        await _revoke(session, principal, case, decision, now=now, calendar=calendar)
    if case.grounds == "fraud" and case.respondent_uscc:
        today = today_shanghai(now)
        session.add(
            Exclusion(
                id=uuid.uuid4(),
                uscc=case.respondent_uscc,
                decision_id=decision.id,
                reason=reasons,
                starts_on=today,
                ends_on=today + timedelta(days=settings.fraud_exclusion_days),
                created_at=now,
            )
        )
    return decision


async def _revoke(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    decision: Decision,
    *,
    now: datetime,
    calendar: WorkdayCalendar,
) -> None:
    assert case.title_id is not None
    path, body = ranking.revocation(
        case.title_id,
        {
            "decision_id": str(decision.id),
            "case_id": str(case.id),
            "reason": decision.reasons,
            "decided_at": notices.rfc3339(now),
        },
    )
    # The decision id is the idempotency key: a repeated delivery revokes once.
    await enqueue(
        session, kit_tables, target=RANKING, path=path, payload=body, message_id=decision.id.hex
    )
    notice = await notices.append(
        session,
        principal,
        NoticeCreate(
            kind=NoticeKind.revocation,
            title="撤销企业标准领跑者称号公告",
            body=f"经调查核实，决定撤销领跑者称号（{case.title_id}）。理由：{decision.reasons}",
            subject=Subject(type="title", id=case.title_id),
            payload={
                "title_id": case.title_id,
                "case_id": str(case.id),
                "decision_id": str(decision.id),
                "uscc": case.respondent_uscc,
            },
        ),
        posted_by=principal.sub,
        now=now,
        calendar=calendar,
    )
    decision.revoked_title_id = case.title_id
    decision.notice_id = notice.id


async def report_closed_windows(session: AsyncSession, now: datetime, limit: int = 50) -> int:
    """Send the outcome of each closed publicity window whose objections are all settled."""
    reported = 0
    for window in await repository.claim_closed_windows(session, today_shanghai(now), limit):
        objections = await repository.objections_to(session, window.notice_id)
        if any(c.state not in SETTLED for c in objections):
            continue  # reported once the last objection is decided
        upheld = [c for c in objections if c.outcome == "upheld"]
        notice = await repository.notice(session, window.notice_id)
        path, body = ranking.publicity_outcome(
            {
                "notice_id": str(window.notice_id),
                # The sender's own id of the notice (it cannot know ours): how it finds the
                # plan version or shortlist the window was about.
                "source_id": notice.payload.get("source_id"),
                "subject": {"type": notice.subject_type, "id": notice.subject_id}
                if notice.subject_type
                else None,
                "closed_on": window.closes_on.isoformat(),
                "objections": len(objections),
                "upheld": [
                    {
                        "case_id": str(c.id),
                        "uscc": c.respondent_uscc,
                        "title_id": c.title_id,
                        "standard_id": c.target_id if c.target_type == "standard" else None,
                        "reason": c.decision_reason,
                    }
                    for c in upheld
                ],
            }
        )
        await enqueue(
            session,
            kit_tables,
            target=RANKING,
            path=path,
            payload=body,
            message_id=f"publicity-outcome-{window.notice_id.hex}",
        )
        window.reported_at = now
        reported += 1
    return reported
