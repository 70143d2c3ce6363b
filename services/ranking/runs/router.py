"""/v1/plans/{id}/runs and /v1/runs — 评估: start a run, its state, ranking lists (排行榜),
explanations (评审说明) and verification."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from services.kit.auth import CurrentPrincipal, OptionalPrincipal
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.problems import PROBLEM_RESPONSES
from services.ranking.catalogue import RegistryDep
from services.ranking.runs import benchmarks, service
from services.ranking.runs.schemas import (
    BenchmarkOut,
    ExplanationOut,
    RankingEntry,
    RunOut,
    VerificationOut,
)

router = APIRouter(tags=["runs"], responses=PROBLEM_RESPONSES)


@router.post(
    "/v1/plans/{plan_id}/runs",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a run of the active plan (its own body); answered at once, worked off-line",
    response_model=RunOut,
)
async def start_run(
    plan_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep
) -> RunOut | JSONResponse:
    async def make() -> RunOut:
        run = await service.start(session, principal, plan_id)
        idem.response.headers["Location"] = f"/v1/runs/{run.id}"
        return RunOut.model_validate(run)

    return await idem.run(make)


@router.get(
    "/v1/runs/{run_id}", summary="A run: state, counts, versions, digests", response_model=RunOut
)
async def get_run(run_id: uuid.UUID, session: SessionDep, principal: OptionalPrincipal) -> RunOut:
    return RunOut.model_validate(await service.get(session, principal, run_id))


@router.get(
    "/v1/runs/{run_id}/rankings",
    summary="The ranking list (排行榜), or with `indicator` that indicator's tier list",
    response_model=Page[RankingEntry],
)
async def get_rankings(
    run_id: uuid.UUID,
    session: SessionDep,
    principal: OptionalPrincipal,
    category: Annotated[str | None, Query(max_length=64)] = None,
    indicator: Annotated[str | None, Query(max_length=64)] = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[RankingEntry]:
    return await service.rankings(session, principal, run_id, category, indicator, cursor, limit)


@router.get(
    "/v1/runs/{run_id}/explanations/{standard_id}",
    summary="Why one standard got its outcome: value, tier, score, contribution, gap to the cut",
    response_model=ExplanationOut,
)
async def get_explanation(
    run_id: uuid.UUID,
    standard_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
) -> ExplanationOut:
    cache = request.app.state.results
    return await service.explanation(session, principal, cache, run_id, standard_id)


@router.get(
    "/v1/runs/{run_id}/verification",
    summary="Re-run the engine from the stored snapshot and compare every digest",
    response_model=VerificationOut,
)
async def verify_run(
    run_id: uuid.UUID, session: SessionDep, principal: OptionalPrincipal
) -> VerificationOut:
    return await service.verify(session, principal, run_id)


@router.get(
    "/v1/runs/{run_id}/snapshot",
    summary="The run's canonical input snapshot, for anyone to re-run it",
    response_model=dict[str, Any],
)
async def get_snapshot(
    run_id: uuid.UUID, session: SessionDep, principal: OptionalPrincipal
) -> dict[str, Any]:
    return await service.snapshot_of(session, principal, run_id)


@router.get(
    "/v1/benchmarks",
    tags=["benchmarks"],
    summary="对标: where a current standard stands against the plan's latest succeeded run",
    response_model=BenchmarkOut,
)
async def get_benchmark(
    standard_id: uuid.UUID,
    plan_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    registry: RegistryDep,
) -> BenchmarkOut:
    cache = request.app.state.results
    return await benchmarks.benchmark(session, principal, registry, cache, standard_id, plan_id)
