"""/v1/standards — 自我声明公开的标准: declare, version, withdraw, search, history."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from services.kit.auth import CurrentPrincipal, OptionalPrincipal
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.preconditions import IfMatchDep, etag
from services.kit.problems import PROBLEM_RESPONSES, NotFound, ValidationFailed
from services.kit.reads import Answer, ReaderDep, cached_json_bytes, kept_answer, kept_public
from services.registry import policy
from services.registry.standards import reads, service
from services.registry.standards.schemas import (
    StandardContent,
    StandardCreate,
    StandardOut,
    StandardSummary,
    VersionCreate,
    VersionOut,
    VersionSummary,
    Withdrawal,
)

router = APIRouter(prefix="/v1/standards", tags=["standards"], responses=PROBLEM_RESPONSES)


async def search_filters(
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Chinese substring of the standard, product or enterprise name, "
            "or a standard number in any spelling",
        ),
    ] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    region: Annotated[
        str | None, Query(pattern=r"^\d{2,6}$", description="division code prefix: 12, 1201")
    ] = None,
    status: Literal["current", "abolished", "superseded"] | None = None,
    uscc: Annotated[str | None, Query(max_length=18)] = None,
    published_from: date | None = None,
    published_to: date | None = None,
) -> reads.SearchFilters:
    """Search filters, shared by the list and the export. A coroutine: a plain class or
    function would be called in a worker thread on every search."""
    if published_from and published_to and published_to < published_from:
        raise ValidationFailed.for_field("published_to", "before published_from")
    return reads.SearchFilters(
        q=q,
        category=category,
        region=region,
        status=status,
        uscc=uscc,
        published_from=published_from,
        published_to=published_to,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Declare a standard (自我声明公开)",
    response_model=StandardOut,
)
async def create_standard(
    body: StandardCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: IdempotencyDep,
) -> StandardOut | JSONResponse:
    async def make() -> StandardOut:
        standard_id = await service.create(session, principal, body)
        std, out = await service.get_view(session, standard_id, principal)
        idem.response.headers["ETag"] = etag(std.row_version)
        return out

    return await idem.run(make)


@router.get("", summary="Search declared standards", response_model=Page[StandardSummary])
async def search_standards(
    request: Request,
    conn: ReaderDep,
    principal: OptionalPrincipal,
    filters: Annotated[reads.SearchFilters, Depends(search_filters)],
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Response:
    if principal is not None:  # what a caller may see depends on who it is
        body = await reads.search(conn, filters, principal, cursor, limit)
        return cached_json_bytes(request, body, public=False)
    # The public view is kept in memory by its URL until a disclosure changes (kit.fresh).
    return await kept_answer(
        request, conn, lambda: reads.search(conn, filters, None, cursor, limit)
    )


@router.get(
    "/{standard_id}", summary="One standard, its current version", response_model=StandardOut
)
async def get_standard(
    standard_id: uuid.UUID, request: Request, conn: ReaderDep, principal: OptionalPrincipal
) -> Response:
    if principal is None:
        # What anyone may see is kept by its URL until a disclosure changes (kit.fresh):
        # a hidden standard is no answer, as a missing one.
        async def public() -> Answer | None:
            found = await reads.one(conn, standard_id)
            if found is None or found.hidden:
                return None
            return Answer(found.body(), etag(found.row_version))

        answer = await kept_public(request, conn, public)
        if answer is None:
            raise NotFound(f"no standard {standard_id}")
        return cached_json_bytes(request, answer.body, etag=answer.etag)
    # A caller's own view: the row is kept until a disclosure changes; who may see it is
    # decided below on every request.
    found = await conn.kept(
        ("standard", standard_id), lambda: reads.one(conn, standard_id), reads.view_weight
    )
    if found is None:
        raise NotFound(f"no standard {standard_id}")
    policy.authorise_standard_read(principal, found.uscc, found.hidden)
    return cached_json_bytes(request, found.body, etag=etag(found.row_version), public=False)


@router.post(
    "/{standard_id}/versions",
    status_code=status.HTTP_201_CREATED,
    summary="New version: correction (修改) or revision (修订); If-Match required",
    response_model=StandardOut,
)
async def create_version(
    standard_id: uuid.UUID,
    body: VersionCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
    precondition: IfMatchDep,
) -> StandardOut:
    await service.add_version(session, principal, standard_id, body, precondition)
    std, out = await service.get_view(session, standard_id, principal)
    response.headers["ETag"] = etag(std.row_version)
    return out


@router.get(
    "/{standard_id}/versions",
    summary="Version history (public)",
    response_model=Page[VersionSummary],
)
async def list_versions(
    standard_id: uuid.UUID,
    session: SessionDep,
    principal: OptionalPrincipal,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[VersionSummary]:
    return await service.versions(session, standard_id, principal, cursor, limit)


@router.get(
    "/{standard_id}/versions/{n}",
    summary="One version exactly as it was declared",
    response_model=VersionOut,
)
async def get_version(
    standard_id: uuid.UUID,
    n: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    principal: OptionalPrincipal,
) -> VersionOut:
    v = await service.version(session, standard_id, n, principal)
    return VersionOut(
        standard_id=v.standard_id,
        n=v.n,
        kind=v.kind,
        content=StandardContent.model_validate(v.content),
        content_hash=v.content_hash,
        note=v.note,
        author_role=v.author_role,
        created_at=v.created_at,
    )


@router.post(
    "/{standard_id}/withdrawal",
    summary="Withdraw (废止) with a reason; the record stays; If-Match required",
    response_model=StandardOut,
)
async def withdraw_standard(
    standard_id: uuid.UUID,
    body: Withdrawal,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
    precondition: IfMatchDep,
) -> StandardOut:
    await service.withdraw(session, principal, standard_id, body.reason, precondition)
    std, out = await service.get_view(session, standard_id, principal)
    response.headers["ETag"] = etag(std.row_version)
    return out
