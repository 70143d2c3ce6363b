"""Evaluation bodies (评估机构) and experts (评审专家).

An organisation applies; a regulator approves it for key areas or rejects it with a reason.
Experts are registered by a regulator with their affiliation, which decides conflicts.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import uscc as stdnum_uscc

from services.kit import audit
from services.kit.auth import Principal
from services.kit.pagination import Page, paginate
from services.kit.problems import Conflict, FieldError, NotFound, ValidationFailed
from services.ranking import policy
from services.ranking.evaluators import repository
from services.ranking.evaluators.schemas import (
    Approval,
    Contact,
    EvaluatorApply,
    EvaluatorOut,
    ExpertCreate,
    ExpertOut,
)
from services.ranking.key_areas import repository as key_areas
from services.ranking.models import Evaluator, Expert, kit_tables


async def _check_key_areas(session: AsyncSession, ids: list[uuid.UUID], field: str) -> None:
    known = await key_areas.existing_ids(session, ids)
    errors = [
        FieldError(field=f"{field}[{i}]", message=f"no key area {kid}")
        for i, kid in enumerate(ids)
        if kid not in known
    ]
    if errors:
        raise ValidationFailed(errors[0].field + ": " + errors[0].message, errors=errors)


def view(principal: Principal | None, ev: Evaluator) -> EvaluatorOut:
    contact = Contact.model_validate(ev.contact) if policy.may_see_contact(principal, ev) else None
    return EvaluatorOut(
        id=ev.id,
        name=ev.name,
        uscc=ev.uscc,
        status=ev.status,
        requested_key_areas=list(ev.requested_key_areas),
        key_areas=list(ev.key_areas or []),
        decision_reason=ev.decision_reason,
        decided_at=ev.decided_at,
        created_at=ev.created_at,
        contact=contact,
    )


async def apply(session: AsyncSession, principal: Principal, body: EvaluatorApply) -> Evaluator:
    """Any signed-in organisation may apply; the body id it gets is its evaluator ``org``."""
    uscc = body.uscc.upper()
    if not stdnum_uscc.is_valid(uscc):
        raise ValidationFailed.for_field(
            "uscc", "not a valid unified social credit code", code="invalid_uscc"
        )
    await _check_key_areas(session, body.key_areas, "key_areas")
    if await repository.by_uscc(session, uscc) is not None:
        raise Conflict("this organisation has already applied", code="duplicate_evaluator")
    ev = Evaluator(
        id=uuid.uuid4(),
        name=body.name,
        uscc=uscc,
        contact=body.contact.model_dump(),
        requested_key_areas=body.key_areas,
        key_areas=[],
        status="pending",
        applicant=principal.sub,
    )
    session.add(ev)
    await session.flush()
    await session.refresh(ev)
    await audit.record(session, kit_tables, principal, "apply", "evaluator", str(ev.id))
    return ev


async def decide(
    session: AsyncSession, principal: Principal, evaluator_id: uuid.UUID, body: Approval
) -> Evaluator:
    """Approve with key areas, or reject with a reason. A later decision replaces it
    (a regulator may withdraw an approval, or change the areas)."""
    policy.require_regulator(principal)
    ev = await repository.get(session, evaluator_id, lock=True)
    if ev is None:
        raise NotFound("no such evaluation body")
    if body.decision == "rejected":
        if not body.reason:
            raise ValidationFailed.for_field("reason", "a rejection needs its reason")
        ev.key_areas = []
    else:
        areas = body.key_areas if body.key_areas is not None else list(ev.requested_key_areas)
        if not areas:
            raise ValidationFailed.for_field("key_areas", "an approval assigns key areas")
        await _check_key_areas(session, areas, "key_areas")
        ev.key_areas = areas
    ev.status = body.decision
    ev.decision_reason = body.reason
    ev.decided_by = principal.sub
    ev.decided_at = func.now()
    ev.row_version += 1
    await session.flush()
    await session.refresh(ev)
    await audit.record(
        session,
        kit_tables,
        principal,
        body.decision,
        "evaluator",
        str(ev.id),
        {"key_areas": [str(k) for k in ev.key_areas], "reason": body.reason},
    )
    return ev


async def get(session: AsyncSession, evaluator_id: uuid.UUID) -> Evaluator:
    ev = await repository.get(session, evaluator_id)
    if ev is None:
        raise NotFound("no such evaluation body")
    return ev


async def listing(
    session: AsyncSession,
    principal: Principal | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> Page[EvaluatorOut]:
    return await paginate(
        session,
        repository.listing(status),
        [Evaluator.created_at, Evaluator.id],
        cursor,
        limit,
        item=lambda ev: view(principal, ev),
    )


async def register_expert(
    session: AsyncSession, principal: Principal, body: ExpertCreate
) -> Expert:
    policy.require_regulator(principal)
    if body.evaluator_id is not None and await repository.get(session, body.evaluator_id) is None:
        raise ValidationFailed.for_field("evaluator_id", "no such evaluation body")
    if await repository.expert_by_subject(session, body.subject) is not None:
        raise Conflict("an expert with this subject is registered", code="duplicate_expert")
    expert = Expert(id=uuid.uuid4(), **body.model_dump())
    session.add(expert)
    await session.flush()
    await session.refresh(expert)
    await audit.record(session, kit_tables, principal, "register", "expert", str(expert.id))
    return expert


async def experts(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Page[ExpertOut]:
    policy.require_regulator(principal)
    return await paginate(
        session,
        repository.experts(),
        [Expert.created_at, Expert.id],
        cursor,
        limit,
        item=ExpertOut.model_validate,
    )


async def expert_of(session: AsyncSession, principal: Principal) -> Expert | None:
    return await repository.expert_by_subject(session, principal.sub)
