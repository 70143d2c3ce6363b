"""Declared standards (自我声明公开的标准): declaring, versions, withdrawal, search.

Every write is a batch of one through the one write path: the content is checked
(``content``), the state read and locked (``repository``), the writes planned (``planner``)
and executed set-based (``writer``), exactly as a bulk sync does with a chunk of many.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal
from services.kit.pagination import Page, paginate
from services.kit.preconditions import Precondition
from services.kit.problems import Conflict, Forbidden, NotFound, Problem, ValidationFailed
from services.registry import policy
from services.registry.enterprises import repository as enterprises
from services.registry.models import Standard, StandardVersion
from services.registry.standards import planner, repository, writer
from services.registry.standards.content import Checked, check_content
from services.registry.standards.plan import Declare, Intent, Refusal, Revise, State, Withdraw
from services.registry.standards.schemas import (
    StandardContent,
    StandardCreate,
    StandardOut,
    StandardSummary,
    VersionCreate,
    VersionSummary,
)

S = TypeVar("S", bound=Select[Any])


async def create(session: AsyncSession, principal: Principal, body: StandardCreate) -> uuid.UUID:
    """声明: a batch of one through the planner; the new standard's id."""
    uscc = body.uscc.strip().upper()
    policy.authorise_standard_declare(principal, uscc)
    firms = await enterprises.lock_states(session, {uscc}, for_update=False)
    if uscc not in firms:
        raise ValidationFailed.for_field("uscc", f"no enterprise {uscc}", code="unknown_enterprise")
    content = StandardContent.model_validate(body.model_dump(exclude={"uscc"}))
    checked = await _checked(session, content, "")
    held = await repository.holders(session, {(uscc, checked.standard_no_key)})
    state = State(enterprises=firms, holders=held)
    return await _write(session, principal, state, Declare(uscc, checked))


async def add_version(
    session: AsyncSession,
    principal: Principal,
    standard_id: uuid.UUID,
    body: VersionCreate,
    precondition: Precondition,
) -> uuid.UUID:
    state = await _state_for_write(session, principal, standard_id, precondition)
    checked = await _checked(session, body.content, "content.")
    state.holders = await repository.holders(
        session, {(state.by_id[standard_id].uscc, checked.standard_no_key)}
    )
    return await _write(
        session, principal, state, Revise(standard_id, body.kind, body.note, checked)
    )


async def withdraw(
    session: AsyncSession,
    principal: Principal,
    standard_id: uuid.UUID,
    reason: str,
    precondition: Precondition,
) -> uuid.UUID:
    state = await _state_for_write(session, principal, standard_id, precondition)
    return await _write(session, principal, state, Withdraw(standard_id, reason))


async def _checked(session: AsyncSession, content: StandardContent, prefix: str) -> Checked:
    vocab = await repository.vocabularies(session, {content.category})
    return check_content(content, vocab, prefix)


async def _state_for_write(
    session: AsyncSession,
    principal: Principal,
    standard_id: uuid.UUID,
    precondition: Precondition,
) -> State:
    """The standard and its enterprise, authorised, then locked in that order."""
    found = await repository.locate(session, standard_id)
    if found is None:
        raise NotFound(f"no standard {standard_id}")
    uscc, hidden = found
    policy.authorise_standard_write(principal, uscc, hidden)
    firms = await enterprises.lock_states(session, {uscc}, for_update=False)
    stored = await repository.lock_by_id(session, {standard_id})
    precondition.check(stored[standard_id].row_version)
    return State(enterprises=firms, by_id=stored)


async def _write(
    session: AsyncSession, principal: Principal, state: State, intent: Intent
) -> uuid.UUID:
    plan = planner.plan(state, [intent], principal, datetime.now(UTC))
    outcome = plan.outcomes[0]
    if outcome.refusal is not None:
        raise _problem(outcome.refusal)
    await writer.execute(session, plan, principal)
    assert outcome.standard_id is not None
    return outcome.standard_id


def _problem(refusal: Refusal) -> Problem:
    if refusal.kind == "forbidden":
        return Forbidden(refusal.message)
    if refusal.kind == "invalid":
        return ValidationFailed.for_field(refusal.field, refusal.message, code=refusal.code)
    return Conflict(refusal.message, code=refusal.code)


async def get_view(
    session: AsyncSession, standard_id: uuid.UUID, principal: Principal | None
) -> tuple[Standard, StandardOut]:
    row = await repository.view(session, standard_id)
    if row is None:
        raise NotFound(f"no standard {standard_id}")
    std, content, enterprise_name = row
    policy.authorise_standard_read(principal, std.uscc, std.hidden)
    return std, StandardOut(
        **summary(std).model_dump(),
        enterprise_name=enterprise_name,
        withdrawn_reason=std.withdrawn_reason,
        withdrawn_at=std.withdrawn_at,
        created_at=std.created_at,
        content=StandardContent.model_validate(content),
    )


def summary(std: Standard) -> StandardSummary:
    return StandardSummary(
        id=std.id,
        uscc=std.uscc,
        standard_no=std.standard_no,
        standard_type=std.standard_type,
        name=std.name,
        category=std.category_code,
        region=std.region,
        status=std.status,
        publication_date=std.publication_date,
        implementation_date=std.implementation_date,
        current_version=std.current_version,
        updated_at=std.updated_at,
    )


async def _visible(
    session: AsyncSession, standard_id: uuid.UUID, principal: Principal | None
) -> None:
    row = (
        await session.execute(
            select(Standard.hidden, Standard.uscc).where(Standard.id == standard_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no standard {standard_id}")
    policy.authorise_standard_read(principal, row.uscc, row.hidden)


async def versions(
    session: AsyncSession,
    standard_id: uuid.UUID,
    principal: Principal | None,
    cursor: str | None,
    limit: int,
) -> Page[VersionSummary]:
    await _visible(session, standard_id, principal)
    return await paginate(
        session,
        select(StandardVersion).where(StandardVersion.standard_id == standard_id),
        [StandardVersion.n],
        cursor,
        limit,
        item=lambda v: VersionSummary.model_validate(v, from_attributes=True),
    )


async def version(
    session: AsyncSession, standard_id: uuid.UUID, n: int, principal: Principal | None
) -> StandardVersion:
    await _visible(session, standard_id, principal)
    found = await session.get(StandardVersion, (standard_id, n))
    if found is None:
        raise NotFound(f"standard {standard_id} has no version {n}")
    return found
