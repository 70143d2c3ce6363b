"""/v1/exclusions — enterprises that may not be evaluated (不得参评), and until when."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from services.kit.clock import ClockDep
from services.kit.db import SessionDep
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.problems import PROBLEM_RESPONSES
from services.kit.workdays import today_shanghai
from services.oversight.exclusions import service
from services.oversight.exclusions.schemas import ExclusionOut

router = APIRouter(prefix="/v1/exclusions", tags=["exclusions"], responses=PROBLEM_RESPONSES)


@router.get(
    "",
    summary="Exclusions in force on a day (default today, Asia/Shanghai): read before each run",
    response_model=Page[ExclusionOut],
)
async def list_exclusions(
    session: SessionDep,
    clock: ClockDep,
    on: date | None = None,
    uscc: Annotated[str | None, Query(min_length=18, max_length=18)] = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[ExclusionOut]:
    day = on or today_shanghai(clock.now())
    return await service.in_force(session, day, uscc, cursor, limit)
