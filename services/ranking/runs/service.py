"""Runs (评估), ranking lists (排行榜), explanations and verification.

A run is requested by the plan's own body while the plan is active; the work happens in the
worker. A succeeded run is public and never changes: its ranking list and explanations come
from the stored rows and snapshot, and verification re-ranks the snapshot and compares.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit import audit
from services.kit.auth import Principal
from services.kit.pagination import Page, paginate
from services.kit.problems import Conflict, NotFound, ValidationFailed
from services.ranking import engine, policy
from services.ranking.evaluators import repository as evaluators
from services.ranking.models import Run, RunResult, kit_tables
from services.ranking.plans import repository as plans
from services.ranking.plans.schemas import PlanContent
from services.ranking.runs import repository
from services.ranking.runs import snapshot as snap
from services.ranking.runs.results import ResultCache, rerank
from services.ranking.runs.schemas import (
    DigestCheck,
    ExplanationIndicator,
    ExplanationOut,
    RankingEntry,
    VerificationOut,
)


async def start(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> Run:
    plan = policy.require_run_starter(principal, await plans.get(session, plan_id, lock=True))
    if plan.retired or plan.active_version is None:
        raise Conflict("only an active plan can be run", code="plan_not_active")
    policy.require_approved_for(await evaluators.get(session, plan.evaluator_id), plan.key_area_id)
    run = Run(
        id=uuid.uuid4(),
        plan_id=plan.id,
        plan_version=plan.active_version,
        evaluator_id=plan.evaluator_id,
        state="queued",
        requested_by=principal.sub,
    )
    session.add(run)
    await session.flush()
    await session.refresh(run)
    await audit.record(
        session, kit_tables, principal, "run", "plan", str(plan.id), {"run": str(run.id)}
    )
    return run


async def get(session: AsyncSession, principal: Principal | None, run_id: uuid.UUID) -> Run:
    return policy.require_run_visible(principal, await repository.get(session, run_id))


async def succeeded(session: AsyncSession, principal: Principal | None, run_id: uuid.UUID) -> Run:
    run = await get(session, principal, run_id)
    if run.state != "succeeded":
        raise Conflict(
            f"the run is {run.state}; results come once it succeeds", code="run_not_succeeded"
        )
    return run


async def _content(session: AsyncSession, run: Run) -> PlanContent:
    version = await plans.version(session, run.plan_id, run.plan_version)
    assert version is not None
    return PlanContent.model_validate(version.content)


async def rankings(
    session: AsyncSession,
    principal: Principal | None,
    run_id: uuid.UUID,
    category: str | None,
    indicator: str | None,
    cursor: str | None,
    limit: int,
) -> Page[RankingEntry]:
    """The composite (or tier-profile) order, or with ``indicator`` that indicator's tier
    list: tier by tier, in standard-number order inside a tier (no order within it)."""
    run = await succeeded(session, principal, run_id)
    if indicator is None:
        stmt = repository.ranking(run.id, category)
        return await paginate(
            session,
            stmt,
            [RunResult.category, RunResult.position],
            cursor,
            limit,
            item=RankingEntry.model_validate,
        )
    content = await _content(session, run)
    if indicator not in {s.code for s in content.indicators if s.weight > 0}:
        raise ValidationFailed.for_field("indicator", f"{indicator} is not ranked by this plan")
    if category is None:
        if len(content.categories) != 1:
            raise ValidationFailed.for_field("category", "name the category of the tier list")
        category = content.categories[0]
    tier = repository.tier_expr(indicator)
    stmt = repository.tier_list(run.id, category, tier)
    return await paginate(
        session,
        stmt,
        [tier, RunResult.standard_no, RunResult.standard_id],
        cursor,
        limit,
        item=lambda row: RankingEntry.model_validate(row._mapping),
        scalars=False,
    )


async def explanation(
    session: AsyncSession,
    principal: Principal | None,
    cache: ResultCache,
    run_id: uuid.UUID,
    standard_id: uuid.UUID,
) -> ExplanationOut:
    run = await succeeded(session, principal, run_id)
    _, result = await cache.get(session, run.id)
    try:
        why = engine.explain(result, str(standard_id))
    except KeyError:
        raise NotFound("the standard was not a candidate of this run") from None
    return ExplanationOut(
        run_id=run.id,
        standard_id=uuid.UUID(why.standard_id),
        standard_no=why.standard_number,
        category=why.category,
        method=why.method.value,
        eligible=why.eligible,
        reasons=[r.to_dict() for r in why.reasons],
        score=why.score,
        rank=why.rank,
        selected=why.selected,
        cut_score=why.cut_score,
        cut_rank=why.cut_rank,
        score_gap=why.score_gap,
        indicators=[ExplanationIndicator(**i.to_dict()) for i in why.indicators],
    )


def _check(stored: str | None, recomputed: str) -> DigestCheck:
    return DigestCheck(stored=stored, recomputed=recomputed, matches=stored == recomputed)


async def verify(
    session: AsyncSession, principal: Principal | None, run_id: uuid.UUID
) -> VerificationOut:
    """Re-rank the stored snapshot from scratch and compare every digest, and the rows."""
    run = await succeeded(session, principal, run_id)
    stored = await repository.snapshot(session, run.id)
    if stored is None:
        raise NotFound("the run has no stored snapshot")
    snapshot, result = await asyncio.to_thread(rerank, stored.body)
    fresh = await asyncio.to_thread(snap.rows, snapshot, result)
    expected = snap.rows_digest(fresh)
    in_db = await repository.stored_rows(session, run.id)
    now = snap.rows_digest(in_db)
    sha = snap.pack(snapshot)[1]
    have = {r.standard_id: r for r in in_db}
    want = {r.standard_id: r for r in fresh}
    mismatched = sorted(s for s in have.keys() | want.keys() if have.get(s) != want.get(s))
    checks = {
        "engine_version": _check(run.engine_version, result.engine_version),
        "snapshot_sha256": _check(stored.sha256, sha),
        "input_digest": _check(run.input_digest, result.input_digest()),
        "result_digest": _check(run.result_digest, result.result_digest()),
        "rows_digest": _check(run.rows_digest, expected),
        "rows_in_database": _check(now, expected),
    }
    return VerificationOut(
        run_id=run.id,
        verified=all(c.matches for c in checks.values()),
        mismatched_standards=mismatched[:10],
        **checks,
    )


async def snapshot_of(
    session: AsyncSession, principal: Principal | None, run_id: uuid.UUID
) -> dict[str, Any]:
    run = await succeeded(session, principal, run_id)
    stored = await repository.snapshot(session, run.id)
    if stored is None:
        raise NotFound("the run has no stored snapshot")
    return snap.unpack(stored.body)
