"""/v1/evaluators — 评估机构 (apply, approval) and /v1/experts — 评审专家."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from services.kit.auth import CurrentPrincipal, OptionalPrincipal
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.problems import PROBLEM_RESPONSES
from services.ranking.evaluators import service
from services.ranking.evaluators.schemas import (
    Approval,
    EvaluatorApply,
    EvaluatorOut,
    ExpertCreate,
    ExpertOut,
)

router = APIRouter(tags=["evaluation bodies"], responses=PROBLEM_RESPONSES)


@router.post(
    "/v1/evaluators",
    status_code=status.HTTP_201_CREATED,
    summary="Apply as an evaluation body (评估机构申请)",
    response_model=EvaluatorOut,
)
async def apply_evaluator(
    body: EvaluatorApply, session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep
) -> EvaluatorOut | JSONResponse:
    async def make() -> EvaluatorOut:
        ev = await service.apply(session, principal, body)
        idem.response.headers["Location"] = f"/v1/evaluators/{ev.id}"
        return service.view(principal, ev)

    return await idem.run(make)


@router.get("/v1/evaluators", summary="Evaluation bodies", response_model=Page[EvaluatorOut])
async def list_evaluators(
    session: SessionDep,
    principal: OptionalPrincipal,
    status: Literal["pending", "approved", "rejected"] | None = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[EvaluatorOut]:
    return await service.listing(session, principal, status, cursor, limit)


@router.get(
    "/v1/evaluators/{evaluator_id}", summary="One evaluation body", response_model=EvaluatorOut
)
async def get_evaluator(
    evaluator_id: uuid.UUID, session: SessionDep, principal: OptionalPrincipal
) -> EvaluatorOut:
    return service.view(principal, await service.get(session, evaluator_id))


@router.post(
    "/v1/evaluators/{evaluator_id}/approval",
    summary="Approve a body for key areas, or reject it with a reason; regulators only",
    response_model=EvaluatorOut,
)
async def decide_evaluator(
    evaluator_id: uuid.UUID, body: Approval, session: SessionDep, principal: CurrentPrincipal
) -> EvaluatorOut:
    return service.view(principal, await service.decide(session, principal, evaluator_id, body))


@router.post(
    "/v1/experts",
    status_code=status.HTTP_201_CREATED,
    summary="Register an expert with their affiliation (评审专家); regulators only",
    response_model=ExpertOut,
)
async def register_expert(
    body: ExpertCreate, session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep
) -> ExpertOut | JSONResponse:
    async def make() -> ExpertOut:
        expert = await service.register_expert(session, principal, body)
        idem.response.headers["Location"] = f"/v1/experts/{expert.id}"
        return ExpertOut.model_validate(expert)

    return await idem.run(make)


@router.get(
    "/v1/experts", summary="Registered experts; regulators only", response_model=Page[ExpertOut]
)
async def list_experts(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[ExpertOut]:
    return await service.experts(session, principal, cursor, limit)
