"""/v1/stats and /v1/targets — progress against the regulator's targets (进展)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.problems import PROBLEM_RESPONSES
from services.ranking.stats import service
from services.ranking.stats.schemas import Stats, TargetIn, TargetOut

router = APIRouter(tags=["stats"], responses=PROBLEM_RESPONSES)


@router.get(
    "/v1/stats",
    summary="Forerunners by year, level and key area; targets; stages",
    response_model=Stats,
)
async def get_stats(
    session: SessionDep, year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> Stats:
    return await service.stats(session, year)


@router.put(
    "/v1/targets",
    summary="A regulator sets a target: so many forerunners of a level by a date",
    response_model=TargetOut,
)
async def set_target(body: TargetIn, session: SessionDep, principal: CurrentPrincipal) -> TargetOut:
    return TargetOut.model_validate(await service.set_target(session, principal, body))


@router.get("/v1/targets", summary="The configured targets", response_model=list[TargetOut])
async def list_targets(session: SessionDep) -> list[TargetOut]:
    return [TargetOut.model_validate(t) for t in await service.targets(session)]
