"""Key areas (重点领域): a regulator names them; their categories must be in the catalogue."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.clients.registry import RegistryClient
from services.kit import audit
from services.kit.auth import Principal
from services.kit.pagination import Page, paginate
from services.kit.preconditions import Precondition
from services.kit.problems import NotFound, ValidationFailed
from services.ranking import catalogue, policy
from services.ranking.key_areas import repository
from services.ranking.key_areas.schemas import KeyAreaCreate, KeyAreaOut, KeyAreaUpdate
from services.ranking.models import KeyArea, kit_tables


def _distinct(codes: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for i, code in enumerate(codes):
        if code in seen:
            raise ValidationFailed.for_field(f"categories[{i}]", f"{code} is listed twice")
        seen[code] = i
    return codes


async def create(
    session: AsyncSession, registry: RegistryClient, principal: Principal, body: KeyAreaCreate
) -> KeyArea:
    policy.require_regulator(principal)
    await catalogue.categories(registry, _distinct(body.categories))
    area = KeyArea(
        id=uuid.uuid4(),
        year=body.year,
        level=body.level,
        name=body.name,
        categories=body.categories,
    )
    session.add(area)
    await session.flush()
    await audit.record(session, kit_tables, principal, "create", "key_area", str(area.id))
    return area


async def update(
    session: AsyncSession,
    registry: RegistryClient,
    principal: Principal,
    key_area_id: uuid.UUID,
    body: KeyAreaUpdate,
    precondition: Precondition,
) -> KeyArea:
    policy.require_regulator(principal)
    area = await repository.get(session, key_area_id, lock=True)
    if area is None:
        raise NotFound("no such key area")
    precondition.check(area.row_version)
    if body.categories is not None:
        await catalogue.categories(registry, _distinct(body.categories))
        area.categories = body.categories
    if body.name is not None:
        area.name = body.name
    area.row_version += 1
    area.updated_at = func.now()
    await session.flush()
    await session.refresh(area)
    await audit.record(session, kit_tables, principal, "update", "key_area", str(area.id))
    return area


async def get(session: AsyncSession, key_area_id: uuid.UUID) -> KeyArea:
    area = await repository.get(session, key_area_id)
    if area is None:
        raise NotFound("no such key area")
    return area


async def listing(
    session: AsyncSession,
    year: int | None,
    level: str | None,
    category: str | None,
    cursor: str | None,
    limit: int,
) -> Page[KeyAreaOut]:
    stmt = repository.listing(year, level, category)
    return await paginate(
        session, stmt, [KeyArea.year, KeyArea.id], cursor, limit, item=KeyAreaOut.model_validate
    )
