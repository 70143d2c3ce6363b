"""/v1/key-areas — 重点领域: a regulator names them; anyone reads them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.preconditions import IfMatchDep, etag
from services.kit.problems import PROBLEM_RESPONSES
from services.ranking.catalogue import RegistryDep
from services.ranking.key_areas import service
from services.ranking.key_areas.schemas import KeyAreaCreate, KeyAreaOut, KeyAreaUpdate, Level

router = APIRouter(prefix="/v1/key-areas", tags=["key areas"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Name a key area (重点领域); regulators only",
    response_model=KeyAreaOut,
)
async def create_key_area(
    body: KeyAreaCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    registry: RegistryDep,
    idem: IdempotencyDep,
) -> KeyAreaOut | JSONResponse:
    async def make() -> KeyAreaOut:
        area = await service.create(session, registry, principal, body)
        idem.response.headers["ETag"] = etag(area.row_version)
        idem.response.headers["Location"] = f"/v1/key-areas/{area.id}"
        return KeyAreaOut.model_validate(area)

    return await idem.run(make)


@router.get("", summary="Key areas by year, level and category", response_model=Page[KeyAreaOut])
async def list_key_areas(
    session: SessionDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    level: Level | None = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[KeyAreaOut]:
    return await service.listing(session, year, level, category, cursor, limit)


@router.get("/{key_area_id}", summary="One key area", response_model=KeyAreaOut)
async def get_key_area(
    key_area_id: uuid.UUID, session: SessionDep, response: Response
) -> KeyAreaOut:
    area = await service.get(session, key_area_id)
    response.headers["ETag"] = etag(area.row_version)
    return KeyAreaOut.model_validate(area)


@router.patch(
    "/{key_area_id}",
    summary="Rename a key area or change its categories (If-Match); regulators only",
    response_model=KeyAreaOut,
)
async def update_key_area(
    key_area_id: uuid.UUID,
    body: KeyAreaUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    registry: RegistryDep,
    precondition: IfMatchDep,
    response: Response,
) -> KeyAreaOut:
    area = await service.update(session, registry, principal, key_area_id, body, precondition)
    response.headers["ETag"] = etag(area.row_version)
    return KeyAreaOut.model_validate(area)
