"""/v1/cases — the case workflow (案件办理)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.kit.auth import CurrentPrincipal
from services.kit.clock import ClockDep
from services.kit.db import SessionDep
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.preconditions import IfMatchDep, etag
from services.kit.problems import PROBLEM_RESPONSES
from services.oversight.cases import service
from services.oversight.cases.schemas import (
    CaseDetail,
    CaseOut,
    ResponseIn,
    ResponseOut,
    State,
    TransitionIn,
)
from services.oversight.deps import CalendarDep, SettingsDep

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=PROBLEM_RESPONSES)


@router.get(
    "",
    summary="Cases the caller may see; ?overdue=true for missed deadlines",
    response_model=Page[CaseOut],
)
async def list_cases(
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    state: State | None = None,
    overdue: bool = False,
    respondent_uscc: Annotated[str | None, Query(min_length=18, max_length=18)] = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[CaseOut]:
    return await service.list_cases(
        session,
        principal,
        state=state,
        overdue=overdue,
        respondent=respondent_uscc,
        now=clock.now(),
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/{case_id}", summary="One case with its history and answers", response_model=CaseDetail
)
async def get_case(
    case_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    response: Response,
) -> CaseDetail:
    case = await service.get(session, principal, case_id, clock.now())
    response.headers["ETag"] = etag(case.row_version)
    return case


@router.post(
    "/{case_id}/transitions",
    summary="Move a case on (If-Match): accept, reject, investigate, decide, close, assign",
    response_model=CaseOut,
)
async def transition_case(
    case_id: uuid.UUID,
    body: TransitionIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    precondition: IfMatchDep,
    clock: ClockDep,
    calendar: CalendarDep,
    settings: SettingsDep,
    response: Response,
) -> CaseOut:
    now = clock.now()
    case = await service.transition(
        session,
        principal,
        case_id,
        body,
        precondition,
        now=now,
        calendar=calendar,
        settings=settings,
    )
    response.headers["ETag"] = etag(case.row_version)
    return service.view(case, now)


@router.post(
    "/{case_id}/responses",
    status_code=status.HTTP_201_CREATED,
    summary="The respondent enterprise answers a case about itself (答复)",
    response_model=ResponseOut,
)
async def respond_to_case(
    case_id: uuid.UUID,
    body: ResponseIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> ResponseOut:
    return await service.respond(session, principal, case_id, body, clock.now())
