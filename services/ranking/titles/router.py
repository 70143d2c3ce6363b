"""/v1/forerunners and /v1/titles — 领跑者名单, "is this a current forerunner", 撤销."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.kit.auth import CurrentPrincipal
from services.kit.clock import ClockDep
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.pagination import MAX_LIMIT
from services.kit.preconditions import IfMatchDep, etag
from services.kit.problems import PROBLEM_RESPONSES
from services.kit.queries import query_model
from services.kit.reads import ReaderDep, kept_answer
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


class LookupQuery(BaseModel):
    """Filters of the forerunner list; ``uscc``, ``standard_no``, ``barcode`` ask "is this a
    current forerunner" (one pass over the query: kit.queries)."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(
        default=20, ge=1, le=MAX_LIMIT, description="Page size (default 20, at most 200)"
    )
    cursor: str | None = Field(
        default=None, max_length=500, description="Opaque cursor from the previous page"
    )
    uscc: str | None = Field(default=None, max_length=18)
    standard_no: str | None = Field(
        default=None, max_length=128, description="any spelling: 全角, spaces, dashes"
    )
    barcode: str | None = Field(default=None, max_length=32, description="GTIN")
    year: int | None = Field(default=None, ge=2000, le=2100)
    level: Level | None = None
    key_area_id: uuid.UUID | None = None
    category: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=12, description="prefix of a code")
    status: TitleStatus | None = Field(
        default="active", description="default active: current forerunners"
    )

    @property
    def filters(self) -> reads.Filters:
        return reads.Filters(
            self.uscc,
            self.standard_no,
            self.barcode,
            self.year,
            self.level,
            self.key_area_id,
            self.category,
            self.region,
            self.status,
        )


lookup_query, LOOKUP_PARAMETERS = query_model(LookupQuery)


@router.get(
    "/v1/forerunners",
    summary="The forerunner list (领跑者名单); is this a current forerunner (by uscc, "
    "standard_no, barcode)",
    response_model=ForerunnerPage,
    openapi_extra=LOOKUP_PARAMETERS,
)
async def forerunners(
    request: Request,
    conn: ReaderDep,
    query: Annotated[LookupQuery, Depends(lookup_query)],
) -> Response:
    # Kept in memory by its URL until a title changes (kit.fresh): the same question asked
    # again is answered without the database, and found unchanged (304) before routing.
    return await kept_answer(
        request, conn, lambda: reads.forerunners(conn, query.filters, query.cursor, query.limit)
    )


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
