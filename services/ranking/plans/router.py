"""/v1/plans — 评估方案: drafts, submission, expert review, decision; publicity outcomes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import JSONResponse

from services.kit.auth import CurrentPrincipal, OptionalPrincipal
from services.kit.clock import ClockDep
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.preconditions import IfMatchDep, etag
from services.kit.problems import PROBLEM_RESPONSES
from services.ranking import publicity
from services.ranking.catalogue import RegistryDep
from services.ranking.plans import service
from services.ranking.plans.schemas import (
    Decision,
    PlanContent,
    PlanCreate,
    PlanOut,
    PlanSummary,
    PublicityOutcome,
    PublicityOutcomeOut,
    ReviewCreate,
    ReviewOut,
    VersionOut,
    VersionState,
)

router = APIRouter(tags=["plans"], responses=PROBLEM_RESPONSES)


@router.post(
    "/v1/plans",
    status_code=status.HTTP_201_CREATED,
    summary="Draft a plan (评估方案) for a key area the body is approved for",
    response_model=PlanOut,
)
async def create_plan(
    body: PlanCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    registry: RegistryDep,
    idem: IdempotencyDep,
) -> PlanOut | JSONResponse:
    async def make() -> PlanOut:
        plan, version = await service.create(session, registry, principal, body)
        idem.response.headers["ETag"] = etag(plan.row_version)
        idem.response.headers["Location"] = f"/v1/plans/{plan.id}"
        return service.view(plan, version)

    return await idem.run(make)


@router.get("/v1/plans", summary="Plans the caller may see", response_model=Page[PlanSummary])
async def list_plans(
    session: SessionDep,
    principal: OptionalPrincipal,
    key_area_id: uuid.UUID | None = None,
    evaluator_id: uuid.UUID | None = None,
    state: VersionState | None = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[PlanSummary]:
    return await service.listing(
        session, principal, key_area_id, evaluator_id, state, cursor, limit
    )


@router.get(
    "/v1/plans/{plan_id}",
    summary="One plan and its latest readable version",
    response_model=PlanOut,
)
async def get_plan(
    plan_id: uuid.UUID, session: SessionDep, principal: OptionalPrincipal, response: Response
) -> PlanOut:
    plan, version = await service.get(session, principal, plan_id)
    response.headers["ETag"] = etag(plan.row_version)
    return service.view(plan, version)


@router.patch(
    "/v1/plans/{plan_id}",
    summary="Edit the draft (If-Match); after a rejection or once active, a new version",
    response_model=PlanOut,
)
async def edit_plan(
    plan_id: uuid.UUID,
    body: PlanContent,
    session: SessionDep,
    principal: CurrentPrincipal,
    registry: RegistryDep,
    precondition: IfMatchDep,
    response: Response,
) -> PlanOut:
    plan, version = await service.edit(session, registry, principal, plan_id, body, precondition)
    response.headers["ETag"] = etag(plan.row_version)
    return service.view(plan, version)


@router.post(
    "/v1/plans/{plan_id}/submission",
    summary="Submit the draft for expert review; the version is frozen (If-Match)",
    response_model=PlanOut,
)
async def submit_plan(
    plan_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    precondition: IfMatchDep,
    response: Response,
) -> PlanOut:
    plan, version = await service.submit(session, principal, plan_id, precondition)
    response.headers["ETag"] = etag(plan.row_version)
    return service.view(plan, version)


@router.post(
    "/v1/plans/{plan_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    summary="An expert approves or rejects the submitted version (专家评审)",
    response_model=ReviewOut,
)
async def review_plan(
    plan_id: uuid.UUID,
    body: ReviewCreate,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> ReviewOut:
    row = await service.review(
        session,
        principal,
        plan_id,
        body,
        min_reviewers=request.app.state.settings.min_reviewers,
        now=clock.now(),
    )
    return ReviewOut.model_validate(row)


@router.get(
    "/v1/plans/{plan_id}/reviews", summary="The reviews of a plan", response_model=Page[ReviewOut]
)
async def list_reviews(
    plan_id: uuid.UUID,
    session: SessionDep,
    principal: OptionalPrincipal,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[ReviewOut]:
    return await service.reviews(session, principal, plan_id, cursor, limit)


@router.post(
    "/v1/plans/{plan_id}/decision",
    summary="Activate the approved version, or retire the plan (If-Match)",
    response_model=PlanOut,
)
async def decide_plan(
    plan_id: uuid.UUID,
    body: Decision,
    session: SessionDep,
    principal: CurrentPrincipal,
    precondition: IfMatchDep,
    response: Response,
) -> PlanOut:
    plan, version = await service.decide(session, principal, plan_id, body, precondition)
    response.headers["ETag"] = etag(plan.row_version)
    return service.view(plan, version)


@router.get(
    "/v1/plans/{plan_id}/versions",
    summary="The plan's versions (submitted ones are immutable)",
    response_model=Page[VersionOut],
)
async def list_versions(
    plan_id: uuid.UUID,
    session: SessionDep,
    principal: OptionalPrincipal,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[VersionOut]:
    return await service.versions(session, principal, plan_id, cursor, limit)


@router.get(
    "/v1/plans/{plan_id}/versions/{n}", summary="One version of a plan", response_model=VersionOut
)
async def get_version(
    plan_id: uuid.UUID,
    n: Annotated[int, Path(ge=1, le=100_000)],
    session: SessionDep,
    principal: OptionalPrincipal,
) -> VersionOut:
    return service.version_view(await service.get_version(session, principal, plan_id, n))


@router.post(
    "/v1/publicity-outcomes",
    summary="Oversight reports a closed publicity window (service role; idempotent by notice)",
    response_model=PublicityOutcomeOut,
)
async def report_publicity_outcome(
    body: PublicityOutcome, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep
) -> PublicityOutcomeOut:
    return await publicity.report(session, principal, body, clock.now())
