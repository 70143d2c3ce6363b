"""/v1/enterprises — 企业."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from services.kit.auth import CurrentPrincipal, OptionalPrincipal
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.preconditions import IfMatchDep, etag
from services.kit.problems import PROBLEM_RESPONSES
from services.registry import policy
from services.registry.enterprises import service
from services.registry.enterprises.schemas import (
    EnterpriseCreate,
    EnterpriseFull,
    EnterprisePatch,
    EnterprisePublic,
)

router = APIRouter(prefix="/v1/enterprises", tags=["enterprises"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register an enterprise (企业登记)",
    response_model=EnterpriseFull,
)
async def create_enterprise(
    body: EnterpriseCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: IdempotencyDep,
) -> EnterpriseFull | JSONResponse:
    async def make() -> EnterpriseFull:
        enterprise = await service.create(session, principal, body)
        idem.response.headers["ETag"] = etag(enterprise.row_version)
        return service.full_view(enterprise)

    return await idem.run(make)


@router.get("", summary="List enterprises", response_model=Page[EnterprisePublic])
async def list_enterprises(
    session: SessionDep,
    region: Annotated[str | None, Query(pattern=r"^\d{2,6}$", description="prefix")] = None,
    verification: Literal["unverified", "verified"] | None = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[EnterprisePublic]:
    return await service.list_public(
        session, region=region, verification=verification, cursor=cursor, limit=limit
    )


@router.get(
    "/{uscc}",
    summary="One enterprise (contact details only for itself and regulators)",
    response_model=EnterpriseFull | EnterprisePublic,
)
async def get_enterprise(
    uscc: str, session: SessionDep, principal: OptionalPrincipal, response: Response
) -> EnterpriseFull | EnterprisePublic:
    enterprise = await service.get(session, uscc)
    policy.authorise_enterprise_read(principal, enterprise.uscc, enterprise.blocked)
    private = policy.sees_private(principal, enterprise.uscc)
    response.headers["ETag"] = etag(enterprise.row_version)
    return service.full_view(enterprise) if private else service.public_view(enterprise)


@router.patch(
    "/{uscc}",
    summary="Change an enterprise (If-Match required); regulators verify and block",
    response_model=EnterpriseFull,
)
async def patch_enterprise(
    uscc: str,
    body: EnterprisePatch,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
    precondition: IfMatchDep,
) -> EnterpriseFull:
    enterprise = await service.patch(session, principal, uscc, body, precondition)
    response.headers["ETag"] = etag(enterprise.row_version)
    return service.full_view(enterprise)
