"""/v1/complaints — complaints, reports and objections (投诉/举报/异议); no token needed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, status
from fastapi.responses import JSONResponse

from services.kit.auth import CurrentPrincipal, OptionalPrincipal
from services.kit.clock import ClockDep
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.problems import PROBLEM_RESPONSES
from services.oversight.complaints import service
from services.oversight.complaints.schemas import (
    ComplaintCreate,
    ComplaintFiled,
    ComplaintForRegulator,
    ComplaintOut,
)
from services.oversight.deps import CalendarDep, ClientIpDep, RankingDep, RegistryDep, SettingsDep

router = APIRouter(prefix="/v1/complaints", tags=["complaints"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="File a complaint, report or objection (anonymous filers get an access code once)",
    response_model=ComplaintFiled,
)
async def file_complaint(
    body: ComplaintCreate,
    session: SessionDep,
    principal: OptionalPrincipal,
    idem: IdempotencyDep,
    clock: ClockDep,
    calendar: CalendarDep,
    settings: SettingsDep,
    registry: RegistryDep,
    ranking: RankingDep,
    ip: ClientIpDep,
) -> ComplaintFiled | JSONResponse:
    async def make() -> ComplaintFiled:
        filed = await service.file(
            session,
            principal,
            body,
            client_ip=ip,
            now=clock.now(),
            calendar=calendar,
            settings=settings,
            registry=registry,
            ranking=ranking,
        )
        idem.response.headers["Location"] = f"/v1/complaints/{filed.tracking_no}"
        return filed

    return await idem.run(make)


@router.get(
    "",
    summary="Complaints: all for regulators, a filer's own for a filer with a token",
    response_model=Page[ComplaintForRegulator | ComplaintOut],
)
async def list_complaints(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[ComplaintOut]:
    return await service.list_complaints(session, principal, cursor, limit)


@router.get(
    "/{tracking_no}",
    summary="Follow a complaint: with its access code, or the filer's token",
    response_model=ComplaintForRegulator | ComplaintOut,
)
async def get_complaint(
    tracking_no: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    principal: OptionalPrincipal,
    access_code: Annotated[
        str | None,
        Header(alias="X-Access-Code", max_length=100, description="The code given at filing"),
    ] = None,
) -> ComplaintOut:
    return await service.get(session, principal, tracking_no, access_code)
