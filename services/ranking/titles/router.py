"""/v1/forerunners and /v1/titles — 领跑者名单, "is this a current forerunner", 撤销."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from services.kit.auth import CurrentPrincipal
from services.kit.clock import ClockDep
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.pagination import CursorQuery, LimitQuery
from services.kit.preconditions import IfMatchDep, etag
from services.kit.problems import PROBLEM_RESPONSES
from services.kit.reads import ReaderDep, cached_json_bytes
from services.ranking.titles import reads, service
from services.ranking.titles.schemas import (
    ForerunnerPage,
    Level,
    Review,
    Revocation,
    TitleOut,
    TitleStatus,
)

router = APIRouter(tags=["titles"], responses=PROBLEM_RESPONSES)


async def lookup_filters(
    uscc: Annotated[str | None, Query(max_length=18)] = None,
    standard_no: Annotated[
        str | None, Query(max_length=128, description="any spelling: 全角, spaces, dashes")
    ] = None,
    barcode: Annotated[str | None, Query(max_length=32, description="GTIN")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    level: Level | None = None,
    key_area_id: uuid.UUID | None = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    region: Annotated[str | None, Query(max_length=12, description="prefix of a code")] = None,
    status: Annotated[
        TitleStatus | None, Query(description="default active: current forerunners")
    ] = "active",
) -> reads.Filters:
    """Filters of the forerunner list; ``uscc``, ``standard_no``, ``barcode`` ask "is this a
    current forerunner". A coroutine: a plain class or function would be called in a worker
    thread on every lookup."""
    return reads.Filters(
        uscc, standard_no, barcode, year, level, key_area_id, category, region, status
    )


@router.get(
    "/v1/forerunners",
    summary="The forerunner list (领跑者名单); is this a current forerunner (by uscc, "
    "standard_no, barcode)",
    response_model=ForerunnerPage,
)
async def forerunners(
    request: Request,
    conn: ReaderDep,
    filters: Annotated[reads.Filters, Depends(lookup_filters)],
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Response:
    body = await reads.forerunners(conn, filters, cursor, limit)
    return cached_json_bytes(request, body)


@router.get("/v1/titles/{title_id}", summary="One title and its history", response_model=TitleOut)
async def get_title(title_id: uuid.UUID, session: SessionDep, response: Response) -> TitleOut:
    title, out = await service.get(session, title_id)
    response.headers["ETag"] = etag(title.row_version)
    return out


@router.post(
    "/v1/titles/{title_id}/revocation",
    summary="Revoke a title (撤销): oversight by its decision (idempotent), or a regulator",
    response_model=TitleOut,
)
async def revoke_title(
    title_id: uuid.UUID,
    body: Revocation,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    idem: IdempotencyDep,
) -> TitleOut | JSONResponse:
    async def make() -> TitleOut:
        await service.revoke(session, principal, title_id, body, clock.now())
        title, out = await service.get(session, title_id)
        idem.response.headers["ETag"] = etag(title.row_version)
        return out

    return await idem.run(make)


@router.post(
    "/v1/titles/{title_id}/review",
    summary="The body restores or ends a title suspended pending its review (If-Match)",
    response_model=TitleOut,
)
async def review_title(
    title_id: uuid.UUID,
    body: Review,
    session: SessionDep,
    principal: CurrentPrincipal,
    precondition: IfMatchDep,
    clock: ClockDep,
    response: Response,
) -> TitleOut:
    await service.review(session, principal, title_id, body, precondition, clock.now())
    title, out = await service.get(session, title_id)
    response.headers["ETag"] = etag(title.row_version)
    return out
