"""Evaluation plans (评估方案) and their lifecycle.

Each version moves draft → submitted (frozen) → publicity (after ``min_reviewers`` expert
approvals; one rejection returns it, ``rejected``) → approved (the publicity outcome) →
active (the body's decision; the version it replaces becomes superseded) → retired. An edit
of a draft changes it in place; an edit after a rejection or of an active plan starts the
next version, so every submitted version stays exactly as it was reviewed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.clients.oversight import NOTICES_PATH, NoticeCreate, Subject, Window
from services.clients.registry import RegistryClient
from services.kit import audit, outbox
from services.kit.auth import Principal
from services.kit.pagination import Page, paginate
from services.kit.preconditions import Precondition
from services.kit.problems import Conflict, NotFound, ValidationFailed
from services.ranking import catalogue, policy
from services.ranking.evaluators import repository as evaluators
from services.ranking.key_areas import repository as key_areas
from services.ranking.models import Plan, PlanReview, PlanVersion, kit_tables
from services.ranking.plans import repository, rules
from services.ranking.plans.schemas import (
    Decision,
    PlanContent,
    PlanCreate,
    PlanOut,
    PlanSummary,
    PublicityOutcome,
    ReviewCreate,
    ReviewOut,
    VersionOut,
)

# Latest-version states from which an edit starts the next version.
NEW_VERSION_FROM = frozenset({"rejected", "active"})


def refuse(plan: Plan, action: str) -> Conflict:
    return Conflict(
        f"cannot {action}: version {plan.latest_version} of the plan is {plan.latest_state}",
        code="invalid_transition",
    )


def version_view(v: PlanVersion) -> VersionOut:
    return VersionOut(
        plan_id=v.plan_id,
        n=v.n,
        state=v.state,
        content=PlanContent.model_validate(v.content),
        content_hash=v.content_hash,
        submitted_at=v.submitted_at,
        notice_id=v.notice_id,
        publicity_outcome=v.publicity_outcome,
        reason=v.reason,
        created_at=v.created_at,
    )


def view(plan: Plan, latest: PlanVersion | None) -> PlanOut:
    return PlanOut(
        id=plan.id,
        evaluator_id=plan.evaluator_id,
        key_area_id=plan.key_area_id,
        latest_version=plan.latest_version,
        latest_state=plan.latest_state,
        active_version=plan.active_version,
        retired=plan.retired,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        version=version_view(latest) if latest is not None else None,
    )


async def _checked_content(
    session: AsyncSession,
    registry: RegistryClient,
    principal: Principal,
    key_area_id: uuid.UUID,
    content: PlanContent,
) -> PlanContent:
    """The content with directions filled in, once the body, area and rules all allow it."""
    area = await key_areas.get(session, key_area_id)
    if area is None:
        raise ValidationFailed.for_field("key_area_id", "no such key area")
    body = await evaluators.get(session, policy.require_body(principal))
    policy.require_approved_for(body, key_area_id)
    categories = await catalogue.categories(registry, content.categories)
    rules.check(content, area.categories, categories)
    return rules.with_directions(content, categories)


def _touch(plan: Plan, state: str) -> None:
    plan.latest_state = state
    plan.row_version += 1
    plan.updated_at = func.now()


async def _latest(session: AsyncSession, plan: Plan, *, lock: bool = True) -> PlanVersion:
    latest = await repository.version(session, plan.id, plan.latest_version, lock=lock)
    assert latest is not None, "a plan always has its latest version"
    return latest


async def _load(session: AsyncSession, plan_id: uuid.UUID) -> Plan | None:
    return await repository.get(session, plan_id, lock=True)


async def create(
    session: AsyncSession, registry: RegistryClient, principal: Principal, body: PlanCreate
) -> tuple[Plan, PlanVersion]:
    content = PlanContent.model_validate(body.model_dump(exclude={"key_area_id"}))
    content = await _checked_content(session, registry, principal, body.key_area_id, content)
    plan = Plan(
        id=uuid.uuid4(),
        evaluator_id=policy.require_body(principal),
        key_area_id=body.key_area_id,
        latest_version=1,
        latest_state="draft",
    )
    session.add(plan)
    await session.flush()
    first = PlanVersion(
        plan_id=plan.id,
        n=1,
        state="draft",
        content=content.model_dump(mode="json"),
        content_hash=rules.content_hash(content),
    )
    session.add(first)
    await session.flush()
    await session.refresh(plan)
    await session.refresh(first)
    await audit.record(session, kit_tables, principal, "create", "plan", str(plan.id))
    return plan, first


async def edit(
    session: AsyncSession,
    registry: RegistryClient,
    principal: Principal,
    plan_id: uuid.UUID,
    body: PlanContent,
    precondition: Precondition,
) -> tuple[Plan, PlanVersion]:
    plan = policy.require_plan_owner(principal, await _load(session, plan_id))
    precondition.check(plan.row_version)
    if plan.retired or (plan.latest_state != "draft" and plan.latest_state not in NEW_VERSION_FROM):
        raise refuse(plan, "edit")
    content = await _checked_content(session, registry, principal, plan.key_area_id, body)
    latest = await _latest(session, plan)
    if latest.state == "draft":
        target = latest
    else:
        target = PlanVersion(plan_id=plan.id, n=latest.n + 1, state="draft")
        session.add(target)
        plan.latest_version = target.n
    target.content = content.model_dump(mode="json")
    target.content_hash = rules.content_hash(content)
    target.updated_at = func.now()
    _touch(plan, "draft")
    await session.flush()
    await session.refresh(plan)
    await session.refresh(target)
    await audit.record(
        session, kit_tables, principal, "edit", "plan", str(plan.id), {"version": target.n}
    )
    return plan, target


async def submit(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, precondition: Precondition
) -> tuple[Plan, PlanVersion]:
    """Freeze the draft and put it before the experts (提交评审)."""
    plan = policy.require_plan_owner(principal, await _load(session, plan_id))
    precondition.check(plan.row_version)
    if plan.retired or plan.latest_state != "draft":
        raise refuse(plan, "submit")
    latest = await _latest(session, plan)
    latest.state = "submitted"
    latest.submitted_at = func.now()
    _touch(plan, "submitted")
    await session.flush()
    await session.refresh(plan)
    await session.refresh(latest)
    await audit.record(
        session, kit_tables, principal, "submit", "plan", str(plan.id), {"version": latest.n}
    )
    return plan, latest


async def review(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    body: ReviewCreate,
    *,
    min_reviewers: int,
    now: datetime,
) -> PlanReview:
    """One expert's verdict. A rejection returns the version; enough approvals start its
    publicity, with the notice written to the outbox in this same transaction."""
    plan = policy.require_plan_visible(principal, await _load(session, plan_id))
    expert = policy.require_reviewer(
        principal, await evaluators.expert_by_subject(session, principal.sub), plan
    )
    if plan.retired or plan.latest_state != "submitted":
        raise refuse(plan, "review")
    latest = await _latest(session, plan)
    if await repository.reviewed(session, plan.id, latest.n, expert.id):
        raise Conflict("you have already reviewed this version", code="already_reviewed")
    row = PlanReview(
        plan_id=plan.id,
        n=latest.n,
        expert_id=expert.id,
        verdict=body.verdict,
        comments=body.comments,
    )
    session.add(row)
    await session.flush()
    if body.verdict == "reject":
        latest.state = "rejected"
        latest.reason = body.comments
        _touch(plan, "rejected")
    elif await repository.approvals(session, plan.id, latest.n) >= min_reviewers:
        await _start_publicity(session, plan, latest, now)
    await session.flush()
    await session.refresh(row)
    await audit.record(
        session,
        kit_tables,
        principal,
        f"review_{body.verdict}",
        "plan",
        str(plan.id),
        {"version": latest.n},
    )
    return row


async def _start_publicity(
    session: AsyncSession, plan: Plan, version: PlanVersion, now: datetime
) -> None:
    content = PlanContent.model_validate(version.content)
    notice_id = uuid.uuid4().hex
    notice = NoticeCreate(
        kind="plan_publicity",
        title=f"评估方案公示：{content.name}（第{version.n}版）",
        body=(
            f"评估方案《{content.name}》第{version.n}版已通过专家评审，现予公示"
            f"{content.publicity_days}个工作日。类别：{'、'.join(content.categories)}。"
        ),
        subject=Subject(type="plan", id=str(plan.id)),
        window=Window(working_days=content.publicity_days),
        payload={"source_id": notice_id, "plan_id": str(plan.id), "version": version.n},
    )
    await outbox.enqueue(
        session,
        kit_tables,
        target="oversight",
        path=NOTICES_PATH,
        payload=notice.model_dump(mode="json"),
        message_id=notice_id,
    )
    version.state = "publicity"
    version.notice_id = notice_id
    plan.public = True
    _touch(plan, "publicity")


async def report_publicity(
    session: AsyncSession, principal: Principal, body: PublicityOutcome
) -> PlanVersion:
    """Oversight's outcome of a closed publicity window. The same report twice is one."""
    policy.require_service(principal)
    version = await repository.version_by_notice(session, body.source_id)
    if version is None:
        raise NotFound("ranking sent no publicity notice with this source_id")
    reported = body.model_dump(mode="json")
    if version.publicity_outcome is not None:
        if bool(version.publicity_outcome.get("upheld")) != bool(body.upheld):
            raise Conflict(
                "a different outcome was already reported for this notice",
                code="outcome_conflict",
            )
        return version
    if version.state != "publicity":
        raise Conflict(f"version {version.n} is {version.state}", code="invalid_transition")
    plan = await _load(session, version.plan_id)
    assert plan is not None
    version.publicity_outcome = reported
    if body.upheld:
        version.state = "rejected"
        version.reason = "; ".join(o.reason or "an objection was upheld" for o in body.upheld)[
            :2000
        ]
    else:
        version.state = "approved"
    if plan.latest_version == version.n:
        _touch(plan, version.state)
    await session.flush()
    await audit.record(
        session,
        kit_tables,
        principal,
        "publicity_outcome",
        "plan",
        str(plan.id),
        {"version": version.n, "upheld": len(body.upheld), "notice_id": body.notice_id},
    )
    return version


async def decide(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    body: Decision,
    precondition: Precondition,
) -> tuple[Plan, PlanVersion]:
    plan = await _load(session, plan_id)
    if body.action == "activate":
        plan = policy.require_plan_owner(principal, plan)
    else:
        plan = policy.require_owner_or_regulator(principal, plan)
    precondition.check(plan.row_version)
    latest = await _latest(session, plan)
    if body.action == "activate":
        if plan.retired or latest.state != "approved":
            raise refuse(plan, "activate")
        policy.require_approved_for(
            await evaluators.get(session, plan.evaluator_id), plan.key_area_id
        )
        if plan.active_version is not None:
            old = await repository.version(session, plan.id, plan.active_version, lock=True)
            assert old is not None
            old.state = "superseded"
        latest.state = "active"
        plan.active_version = latest.n
        _touch(plan, "active")
    else:
        if plan.retired or latest.state == "publicity":
            raise refuse(plan, "retire")
        if not body.reason:
            raise ValidationFailed.for_field("reason", "retiring a plan needs a reason")
        for n in {plan.active_version, latest.n} - {None}:
            v = await repository.version(session, plan.id, n, lock=True)  # type: ignore[arg-type]
            assert v is not None
            v.state = "retired"
        plan.retired = True
        plan.retired_reason = body.reason
        _touch(plan, "retired")
    await session.flush()
    await session.refresh(plan)
    await session.refresh(latest)
    await audit.record(
        session, kit_tables, principal, body.action, "plan", str(plan.id), {"version": latest.n}
    )
    return plan, latest


async def get(
    session: AsyncSession, principal: Principal | None, plan_id: uuid.UUID
) -> tuple[Plan, PlanVersion | None]:
    """The plan and the latest version the caller may read."""
    plan = policy.require_plan_visible(principal, await repository.get(session, plan_id))
    for n in range(plan.latest_version, 0, -1):
        v = await repository.version(session, plan.id, n)
        if v is not None and policy.may_read_version(principal, plan, v.state):
            return plan, v
    return plan, None


async def get_version(
    session: AsyncSession, principal: Principal | None, plan_id: uuid.UUID, n: int
) -> PlanVersion:
    plan = policy.require_plan_visible(principal, await repository.get(session, plan_id))
    v = await repository.version(session, plan.id, n)
    if v is None or not policy.may_read_version(principal, plan, v.state):
        raise NotFound("no such version")
    return v


async def versions(
    session: AsyncSession,
    principal: Principal | None,
    plan_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> Page[VersionOut]:
    plan = policy.require_plan_visible(principal, await repository.get(session, plan_id))
    every = policy.may_read_version(principal, plan, "draft")
    stmt = repository.versions(plan.id, None if every else policy.FROZEN_STATES)
    return await paginate(session, stmt, [PlanVersion.n], cursor, limit, item=version_view)


async def reviews(
    session: AsyncSession,
    principal: Principal | None,
    plan_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> Page[ReviewOut]:
    plan = policy.require_plan_visible(principal, await repository.get(session, plan_id))
    return await paginate(
        session,
        repository.reviews(plan.id),
        [PlanReview.id],
        cursor,
        limit,
        item=ReviewOut.model_validate,
    )


async def listing(
    session: AsyncSession,
    principal: Principal | None,
    key_area_id: uuid.UUID | None,
    evaluator_id: uuid.UUID | None,
    state: str | None,
    cursor: str | None,
    limit: int,
) -> Page[PlanSummary]:
    stmt = repository.listing(policy.visible_plans(principal), key_area_id, evaluator_id, state)
    return await paginate(
        session,
        stmt,
        [Plan.created_at, Plan.id],
        cursor,
        limit,
        item=PlanSummary.model_validate,
    )
