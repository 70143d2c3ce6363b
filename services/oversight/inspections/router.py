"""/v1/inspections — inspection findings in (抽检)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from services.kit.auth import CurrentPrincipal
from services.kit.clock import ClockDep
from services.kit.db import SessionDep
from services.kit.problems import PROBLEM_RESPONSES
from services.oversight.deps import CalendarDep, RankingDep, RegistryDep, SettingsDep
from services.oversight.inspections import service
from services.oversight.inspections.schemas import InspectionIn, InspectionOut

router = APIRouter(prefix="/v1/inspections", tags=["inspections"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Submit a finding (regulators, services); the same lab report again is a 200",
    response_model=InspectionOut,
    responses={200: {"description": "This report was already received", "model": InspectionOut}},
)
async def submit_inspection(
    body: InspectionIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    calendar: CalendarDep,
    settings: SettingsDep,
    registry: RegistryDep,
    ranking: RankingDep,
    response: Response,
) -> InspectionOut:
    finding, created = await service.submit(
        session,
        principal,
        body,
        now=clock.now(),
        calendar=calendar,
        settings=settings,
        registry=registry,
        ranking=ranking,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return finding
