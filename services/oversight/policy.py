"""Who may see or do what in oversight: the one place that answers it.

- Notices: anyone reads; regulators post any kind, services (ranking) post the kinds ranking
  publishes. Nothing is ever changed or deleted.
- Complaints: anyone files. A complaint is seen by regulators, by the filer's token, or with
  its access code; contact details only by regulators.
- Cases: regulators see all; an evaluation body sees the cases assigned to it; the respondent
  enterprise sees its cases once accepted, and answers them. Transitions by role below.
- Inspections: regulators and services submit. Exclusions: public.

Where a caller may not see a thing, it gets 404 for writes to it too (existence is hidden).
"""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import ColumnElement, and_, false, true

from services.kit.auth import Principal, Role
from services.kit.problems import Forbidden, NotFound, Unauthorized
from services.oversight.models import Case, Complaint
from services.oversight.notices.schemas import NoticeKind

SERVICE_NOTICE_KINDS = frozenset(
    {
        NoticeKind.plan_publicity,
        NoticeKind.shortlist_publicity,
        NoticeKind.forerunner_list,
        NoticeKind.correction,
    }
)

# States in which the respondent enterprise sees its case: accepted and after (not received,
# not rejected: a complaint not taken up is not put to the enterprise).
RESPONDENT_STATES = ("accepted", "investigating", "decided", "closed")
RESPONSE_STATES = ("accepted", "investigating")

# action -> roles that may take it. An evaluator only on cases assigned to its body; the
# decision itself (revocation, exclusion) and closing stay with regulators.
TRANSITION_ROLES: dict[str, frozenset[Role]] = {
    "accept": frozenset({Role.regulator, Role.evaluator}),
    "reject": frozenset({Role.regulator, Role.evaluator}),
    "investigate": frozenset({Role.regulator, Role.evaluator}),
    "decide": frozenset({Role.regulator}),
    "close": frozenset({Role.regulator}),
    "assign": frozenset({Role.regulator}),
}


def _need(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthorized()
    return principal


# Notices


def authorise_post_notice(principal: Principal | None, kind: NoticeKind) -> Principal:
    principal = _need(principal)
    if principal.role is Role.regulator:
        return principal
    if principal.role is Role.service and kind in SERVICE_NOTICE_KINDS:
        return principal
    raise Forbidden(f"this role may not post a {kind} notice")


# Complaints


def sees_contact(principal: Principal | None) -> bool:
    """Contact details are personal data: regulators only."""
    return principal is not None and principal.role is Role.regulator


def authorise_complaint_read(
    principal: Principal | None, complaint: Complaint, code_hash: str | None
) -> None:
    if principal is not None and principal.role is Role.regulator:
        return
    if principal is not None and complaint.filer_sub and principal.sub == complaint.filer_sub:
        return
    if code_hash is not None and hmac.compare_digest(code_hash, complaint.access_code_hash):
        return
    raise NotFound("no complaint with this tracking number and access code")


def complaint_visibility(principal: Principal | None) -> ColumnElement[bool]:
    """Which complaints a list shows: all to regulators, a filer its own."""
    principal = _need(principal)
    if principal.role is Role.regulator:
        return true()
    return Complaint.filer_sub == principal.sub


# Cases


def case_visibility(principal: Principal | None) -> ColumnElement[bool]:
    principal = _need(principal)
    if principal.role is Role.regulator:
        return true()
    if principal.role is Role.evaluator and principal.org:
        return and_(Case.assignee_type == "evaluator", Case.assignee == principal.org)
    if principal.role is Role.enterprise and principal.org:
        return and_(Case.respondent_uscc == principal.org, Case.state.in_(RESPONDENT_STATES))
    return false()


def may_see_case(principal: Principal | None, case: Case) -> bool:
    if principal is None:
        return False
    if principal.role is Role.regulator:
        return True
    if principal.role is Role.evaluator:
        return case.assignee_type == "evaluator" and case.assignee == principal.org
    if principal.role is Role.enterprise:
        return case.respondent_uscc == principal.org and case.state in RESPONDENT_STATES
    return False


def authorise_case_read(principal: Principal | None, case: Case) -> None:
    _need(principal)
    if not may_see_case(principal, case):
        raise NotFound(f"no case {case.id}")


def authorise_transition(principal: Principal | None, case: Case, action: str) -> Principal:
    authorise_case_read(principal, case)
    assert principal is not None
    roles = TRANSITION_ROLES.get(action, frozenset())
    if principal.role not in roles:
        raise Forbidden(f"a {principal.role} may not {action} a case")
    return principal


def authorise_response(principal: Principal | None, case: Case) -> Principal:
    authorise_case_read(principal, case)
    assert principal is not None
    if principal.role is not Role.enterprise:
        raise Forbidden("only the respondent enterprise answers a case")
    if case.state not in RESPONSE_STATES:
        raise Forbidden(f"a {case.state} case takes no more answers", code="case_not_open")
    return principal


def case_view_fields(principal: Principal | None) -> dict[str, Any]:
    """What of a case a caller may see beyond the public core: regulators see the assignee."""
    return {"internal": principal is not None and principal.role is Role.regulator}


# Inspections


def authorise_inspection(principal: Principal | None) -> Principal:
    principal = _need(principal)
    if principal.role not in (Role.regulator, Role.service):
        raise Forbidden("inspection findings come from regulators or services")
    return principal
