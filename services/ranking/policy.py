"""Who may see or do what in the ranking service. The one place that decides access.

Regulators (监管部门) manage key areas, decide on evaluation bodies and register experts. An
evaluation body (评估机构) acts through tokens whose ``org`` is its id: only on its own plans
and runs, and only in the key areas it is approved for. An expert reviews submitted plans,
never those of the body they are affiliated with. Oversight (the ``service`` role) reports
publicity outcomes. A shortlisted enterprise (its token's ``org`` is its USCC) sees and answers
only its own shortlist entries; titles are public, revoked by oversight or a regulator, and
reviewed by the body that granted them. Whoever may not see a thing gets 404 on writes to it too.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, or_, true

from services.kit.auth import Principal, Role
from services.kit.problems import Forbidden, NotFound
from services.ranking.models import Evaluator, Expert, Plan, Run, ShortlistEntry, Title

# Version states whose content anyone who may see the plan may read.
FROZEN_STATES = frozenset(
    {"submitted", "rejected", "publicity", "approved", "active", "superseded", "retired"}
)


def _is(principal: Principal | None, *roles: Role) -> bool:
    return principal is not None and principal.role in roles


def body_id(principal: Principal | None) -> uuid.UUID | None:
    """The evaluation body a caller acts for, or None (not an evaluator, or a malformed org)."""
    if not _is(principal, Role.evaluator) or principal is None or not principal.org:
        return None
    try:
        return uuid.UUID(principal.org)
    except ValueError:
        return None


def require_regulator(principal: Principal) -> None:
    if not _is(principal, Role.regulator):
        raise Forbidden("only a regulator may do this")


def require_service(principal: Principal) -> None:
    if not _is(principal, Role.service):
        raise Forbidden("only another platform service may report this")


# --- evaluation bodies -----------------------------------------------------------------------


def may_see_contact(principal: Principal | None, evaluator: Evaluator) -> bool:
    """Contact details are personal data: the body itself and regulators only."""
    return _is(principal, Role.regulator) or body_id(principal) == evaluator.id


def require_body(principal: Principal) -> uuid.UUID:
    """The caller's body id: only an evaluator token acts for a body."""
    org = body_id(principal)
    if org is None:
        raise Forbidden("only an evaluation body may do this")
    return org


def require_approved_for(evaluator: Evaluator | None, key_area_id: uuid.UUID) -> None:
    """A body acts only in key areas a regulator approved it for."""
    if evaluator is None or evaluator.status != "approved":
        raise Forbidden("the evaluation body is not approved", code="body_not_approved")
    if key_area_id not in (evaluator.key_areas or []):
        raise Forbidden(
            "the evaluation body is not approved for this key area",
            code="key_area_not_assigned",
        )


# --- plans -----------------------------------------------------------------------------------


def may_see_plan(principal: Principal | None, plan: Plan) -> bool:
    if plan.public or _is(principal, Role.regulator) or body_id(principal) == plan.evaluator_id:
        return True
    # Experts see what is waiting for review.
    return _is(principal, Role.expert) and plan.latest_state == "submitted"


def visible_plans(principal: Principal | None) -> ColumnElement[bool]:
    """The SQL form of ``may_see_plan`` for lists."""
    if _is(principal, Role.regulator):
        return true()
    clauses: list[ColumnElement[bool]] = [Plan.public.is_(True)]
    org = body_id(principal)
    if org is not None:
        clauses.append(Plan.evaluator_id == org)
    if _is(principal, Role.expert):
        clauses.append(Plan.latest_state == "submitted")
    return or_(*clauses)


def require_plan_visible(principal: Principal | None, plan: Plan | None) -> Plan:
    if plan is None or not may_see_plan(principal, plan):
        raise NotFound("no such plan")
    return plan


def may_read_version(principal: Principal | None, plan: Plan, state: str) -> bool:
    """Every submitted version is readable by whoever sees the plan; drafts by their body."""
    if state in FROZEN_STATES:
        return True
    return _is(principal, Role.regulator) or body_id(principal) == plan.evaluator_id


def require_plan_owner(principal: Principal, plan: Plan | None) -> Plan:
    """Write access to a plan: its own body only (404 for those who may not see it)."""
    plan = require_plan_visible(principal, plan)
    if body_id(principal) != plan.evaluator_id:
        raise Forbidden("only the plan's own evaluation body may do this")
    return plan


def require_owner_or_regulator(principal: Principal, plan: Plan | None) -> Plan:
    plan = require_plan_visible(principal, plan)
    if not _is(principal, Role.regulator) and body_id(principal) != plan.evaluator_id:
        raise Forbidden("only the plan's body or a regulator may do this")
    return plan


def require_reviewer(principal: Principal, expert: Expert | None, plan: Plan) -> Expert:
    """A registered expert without a conflict of interest (回避)."""
    if not _is(principal, Role.expert):
        raise Forbidden("only an expert may review a plan")
    if expert is None:
        raise Forbidden("the caller is not a registered expert", code="not_registered_expert")
    if expert.evaluator_id is not None and expert.evaluator_id == plan.evaluator_id:
        raise Forbidden(
            "the expert is affiliated with the plan's evaluation body",
            code="conflict_of_interest",
        )
    return expert


# --- runs ------------------------------------------------------------------------------------


def may_see_run(principal: Principal | None, run: Run) -> bool:
    """A succeeded run is public (排行榜); until then only its body and regulators see it."""
    if run.state == "succeeded":
        return True
    return _is(principal, Role.regulator) or body_id(principal) == run.evaluator_id


def require_run_visible(principal: Principal | None, run: Run | None) -> Run:
    if run is None or not may_see_run(principal, run):
        raise NotFound("no such run")
    return run


def require_run_starter(principal: Principal, plan: Plan | None) -> Plan:
    """Only the plan's own body starts runs of it."""
    return require_plan_owner(principal, plan)


def public_fields(principal: Principal | None, evaluator: Evaluator) -> dict[str, Any]:
    """What of a body a caller may read: everything but contact unless ``may_see_contact``."""
    return {"contact": evaluator.contact if may_see_contact(principal, evaluator) else None}


def require_shortlister(principal: Principal, run: Run | None) -> Run:
    """Only the run's own body publishes its shortlist (入围名单)."""
    run = require_run_visible(principal, run)
    if body_id(principal) != run.evaluator_id:
        raise Forbidden("only the run's own evaluation body may publish its shortlist")
    return run


# --- shortlist entries -----------------------------------------------------------------------


def enterprise_of(principal: Principal | None) -> str | None:
    """The USCC an enterprise token acts for."""
    if not _is(principal, Role.enterprise) or principal is None or not principal.org:
        return None
    return principal.org.strip().upper()


def may_see_entry(
    principal: Principal | None, entry: ShortlistEntry, evaluator_id: uuid.UUID
) -> bool:
    return (
        _is(principal, Role.regulator)
        or enterprise_of(principal) == entry.uscc
        or body_id(principal) == evaluator_id
    )


def require_entry_answerer(
    principal: Principal, entry: ShortlistEntry | None, evaluator_id: uuid.UUID | None
) -> ShortlistEntry:
    """承诺书 or opt-out: the entry's own enterprise only (404 to whoever may not see it)."""
    if entry is None or evaluator_id is None or not may_see_entry(principal, entry, evaluator_id):
        raise NotFound("no such shortlist entry")
    if enterprise_of(principal) != entry.uscc:
        raise Forbidden("only the shortlisted enterprise itself may answer", code="not_your_entry")
    return entry


def require_entries_of(principal: Principal, uscc: str | None) -> str | None:
    """Whose entries a caller may list: an enterprise its own, a regulator anyone's."""
    if _is(principal, Role.regulator):
        return uscc.strip().upper() if uscc else None
    own = enterprise_of(principal)
    if own is None:
        raise Forbidden("only an enterprise or a regulator may list shortlist entries")
    if uscc and uscc.strip().upper() != own:
        raise Forbidden("an enterprise lists only its own shortlist entries")
    return own


# --- titles ----------------------------------------------------------------------------------


def require_revoker(principal: Principal, decision_id: str | None) -> str:
    """Oversight (with its decision id) or a regulator revokes; the source recorded."""
    if _is(principal, Role.service):
        if not decision_id:
            raise Forbidden("oversight revokes only by a decision", code="decision_required")
        return "oversight"
    if _is(principal, Role.regulator):
        return "regulator"
    raise Forbidden("only oversight or a regulator may revoke a title")


def require_title_reviewer(principal: Principal, title: Title | None) -> Title:
    """The body that granted a title restores or ends it after a suspension for review."""
    if title is None:
        raise NotFound("no such title")
    if body_id(principal) != title.evaluator_id and not _is(principal, Role.regulator):
        raise Forbidden("only the title's evaluation body may review it")
    return title
