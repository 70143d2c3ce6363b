"""Case rules (案件): the state machine, deadlines in working days, answers, overdue flags.

received → accepted | rejected → investigating → decided → closed (a rejected case closes
too). Accept or reject within ``accept_within_workdays`` of receipt, decide within
``decide_within_workdays`` of acceptance, both on the Chinese calendar (Asia/Shanghai).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit import audit
from services.kit.auth import Principal, Role
from services.kit.pagination import Page, paginate
from services.kit.preconditions import Precondition
from services.kit.problems import Conflict, NotFound
from services.kit.workdays import WorkdayCalendar, today_shanghai
from services.oversight import policy
from services.oversight.cases import repository
from services.oversight.cases.schemas import (
    CaseDetail,
    CaseEventOut,
    CaseOut,
    ResponseIn,
    ResponseOut,
    TransitionIn,
)
from services.oversight.decisions import service as decisions
from services.oversight.models import Case, CaseEvent, CaseResponse, kit_tables
from services.oversight.settings import OversightSettings

# action -> (states it may start from, state it leads to); assign keeps the state.
MOVES: dict[str, tuple[frozenset[str], str | None]] = {
    "accept": (frozenset({"received"}), "accepted"),
    "reject": (frozenset({"received"}), "rejected"),
    "investigate": (frozenset({"accepted"}), "investigating"),
    "decide": (frozenset({"investigating"}), "decided"),
    "close": (frozenset({"decided", "rejected"}), "closed"),
    "assign": (frozenset({"received", "accepted", "investigating"}), None),
}


async def open_case(
    session: AsyncSession,
    *,
    origin: str,
    target_type: str,
    target_id: str,
    grounds: str,
    now: datetime,
    calendar: WorkdayCalendar,
    settings: OversightSettings,
    complaint_id: uuid.UUID | None = None,
    inspection_id: uuid.UUID | None = None,
    title_id: str | None = None,
    respondent_uscc: str | None = None,
    notice_id: uuid.UUID | None = None,
    assignee: tuple[str, str] | None = None,
) -> Case:
    received = today_shanghai(now)
    case = Case(
        id=uuid.uuid4(),
        origin=origin,
        complaint_id=complaint_id,
        inspection_id=inspection_id,
        target_type=target_type,
        target_id=target_id,
        title_id=title_id,
        respondent_uscc=respondent_uscc,
        notice_id=notice_id,
        grounds=grounds,
        state="received",
        assignee_type=assignee[0] if assignee else None,
        assignee=assignee[1] if assignee else None,
        received_on=received,
        due_on=calendar.add_workdays(received, settings.accept_within_workdays),
        row_version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.add(
        CaseEvent(case_id=case.id, at=now, action="open", from_state=None, to_state="received")
    )
    return case


async def transition(
    session: AsyncSession,
    principal: Principal | None,
    case_id: uuid.UUID,
    body: TransitionIn,
    precondition: Precondition,
    *,
    now: datetime,
    calendar: WorkdayCalendar,
    settings: OversightSettings,
) -> Case:
    case = await _get(session, case_id, for_update=True)
    who = policy.authorise_transition(principal, case, body.action)
    precondition.check(case.row_version)
    allowed_from, to_state = MOVES[body.action]
    if case.state not in allowed_from:
        raise Conflict(
            f"a {case.state} case does not take '{body.action}'", code="invalid_transition"
        )
    today = today_shanghai(now)
    from_state = case.state
    if body.action == "accept":
        case.accepted_on = today
        case.due_on = calendar.add_workdays(today, settings.decide_within_workdays)
        case.overdue_flagged_at = None
    elif body.action == "reject":
        case.rejection_reason = body.reason
        case.due_on = None
    elif body.action == "decide":
        assert body.outcome is not None
        assert body.reason is not None
        case.outcome = body.outcome
        case.decision_reason = body.reason
        case.due_on = None
        await decisions.decide(
            session,
            who,
            case,
            body.outcome,
            body.reason,
            now=now,
            calendar=calendar,
            settings=settings,
        )
    elif body.action == "assign":
        case.assignee_type = body.assignee_type
        case.assignee = body.assignee
    if to_state is not None:
        case.state = to_state
    case.row_version += 1
    case.updated_at = now
    session.add(
        CaseEvent(
            case_id=case.id,
            at=now,
            action=body.action,
            from_state=from_state,
            to_state=case.state,
            actor_sub=who.sub,
            actor_role=str(who.role),
            reason=body.reason,
        )
    )
    await session.flush()
    await audit.record(
        session, kit_tables, who, body.action, "case", str(case.id), {"to": case.state}
    )
    return case


async def respond(
    session: AsyncSession,
    principal: Principal | None,
    case_id: uuid.UUID,
    body: ResponseIn,
    now: datetime,
) -> ResponseOut:
    case = await _get(session, case_id, for_update=True)
    who = policy.authorise_response(principal, case)
    assert who.org is not None
    answer = CaseResponse(
        id=uuid.uuid4(), case_id=case.id, uscc=who.org, author_sub=who.sub, text=body.text, at=now
    )
    session.add(answer)
    session.add(
        CaseEvent(
            case_id=case.id,
            at=now,
            action="response",
            from_state=case.state,
            to_state=case.state,
            actor_sub=who.sub,
            actor_role=str(who.role),
        )
    )
    await session.flush()
    await audit.record(session, kit_tables, who, "respond", "case", str(case.id))
    return ResponseOut.model_validate(answer, from_attributes=True)


async def _get(session: AsyncSession, case_id: uuid.UUID, *, for_update: bool = False) -> Case:
    case = await repository.get(session, case_id, for_update=for_update)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


async def get(
    session: AsyncSession, principal: Principal | None, case_id: uuid.UUID, now: datetime
) -> CaseDetail:
    case = await _get(session, case_id)
    policy.authorise_case_read(principal, case)
    described = await repository.descriptions(session, [case])
    events = await repository.history(session, case.id)
    answers = await repository.responses(session, case.id)
    # Only regulators see who did what; others see the steps.
    show_roles = principal is not None and principal.role is Role.regulator
    return CaseDetail(
        **_fields(case, described, now),
        history=[
            CaseEventOut(
                at=e.at,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                actor_role=e.actor_role if show_roles else None,
                reason=e.reason,
            )
            for e in events
        ],
        responses=[ResponseOut.model_validate(a, from_attributes=True) for a in answers],
    )


async def list_cases(
    session: AsyncSession,
    principal: Principal | None,
    *,
    state: str | None,
    overdue: bool,
    respondent: str | None,
    now: datetime,
    cursor: str | None,
    limit: int,
) -> Page[CaseOut]:
    stmt = repository.listing(
        policy.case_visibility(principal),
        state=state,
        overdue_on=today_shanghai(now) if overdue else None,
        respondent=respondent,
    )
    page: Page[Case] = await paginate(
        session, stmt, [Case.created_at, Case.id], cursor, limit, descending=True
    )
    described = await repository.descriptions(session, page.items)
    return Page[CaseOut](
        items=[CaseOut(**_fields(c, described, now)) for c in page.items],
        next_cursor=page.next_cursor,
    )


def view(case: Case, now: datetime, description: str | None = None) -> CaseOut:
    return CaseOut(**_fields(case, {case.id: description} if description else {}, now))


def _fields(case: Case, described: dict[uuid.UUID, str], now: datetime) -> dict[str, Any]:
    return {
        "id": case.id,
        "origin": case.origin,
        "target_type": case.target_type,
        "target_id": case.target_id,
        "title_id": case.title_id,
        "respondent_uscc": case.respondent_uscc,
        "notice_id": case.notice_id,
        "grounds": case.grounds,
        "state": case.state,
        "outcome": case.outcome,
        "rejection_reason": case.rejection_reason,
        "decision_reason": case.decision_reason,
        "assignee_type": case.assignee_type,
        "assignee": case.assignee,
        "received_on": case.received_on,
        "accepted_on": case.accepted_on,
        "due_on": case.due_on,
        "overdue": case.due_on is not None and case.due_on < today_shanghai(now),
        "description": described.get(case.id),
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "row_version": case.row_version,
    }


async def flag_overdue(session: AsyncSession, now: datetime, limit: int = 100) -> int:
    """Stamp cases whose deadline passed and record it in their history (once each)."""
    flagged = await repository.claim_newly_overdue(session, today_shanghai(now), limit)
    for case in flagged:
        case.overdue_flagged_at = now
        session.add(
            CaseEvent(
                case_id=case.id,
                at=now,
                action="overdue",
                from_state=case.state,
                to_state=case.state,
                reason=f"deadline {case.due_on} passed",
            )
        )
    return len(flagged)
