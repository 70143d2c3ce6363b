"""/v1/notices — the public notice board (公示/公告) and its verifiable chain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse

from services.kit.auth import CurrentPrincipal
from services.kit.clock import ClockDep
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.problems import PROBLEM_RESPONSES
from services.oversight import policy
from services.oversight.deps import CalendarDep, SignerDep
from services.oversight.notices import service
from services.oversight.notices.schemas import (
    ChainHead,
    ChainPage,
    NoticeCreate,
    NoticeKind,
    NoticeOut,
    PublicKeyOut,
)

router = APIRouter(prefix="/v1/notices", tags=["notices"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Post a notice (regulators; services for the kinds ranking publishes)",
    response_model=NoticeOut,
)
async def post_notice(
    body: NoticeCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: IdempotencyDep,
    clock: ClockDep,
    calendar: CalendarDep,
) -> NoticeOut | JSONResponse:
    policy.authorise_post_notice(principal, body.kind)

    async def make() -> NoticeOut:
        notice = await service.append(
            session, principal, body, posted_by=principal.sub, now=clock.now(), calendar=calendar
        )
        idem.response.headers["Location"] = f"/v1/notices/{notice.id}"
        return service.view(notice)

    return await idem.run(make)


@router.get("", summary="The notice board, newest first", response_model=Page[NoticeOut])
async def list_notices(
    session: SessionDep,
    kind: NoticeKind | None = None,
    subject_type: Annotated[str | None, Query(max_length=32)] = None,
    subject_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[NoticeOut]:
    return await service.list_notices(
        session,
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/chain",
    summary="Chain entries after a position, with their canonical text and hashes",
    response_model=ChainPage,
)
async def get_chain(
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="Last seq already seen")] = 0,
    limit: LimitQuery = 200,
) -> ChainPage:
    return await service.chain_page(session, after, limit)


@router.get("/chain/head", summary="The chain's head, signed (Ed25519)", response_model=ChainHead)
async def get_chain_head(session: SessionDep, signer: SignerDep, clock: ClockDep) -> ChainHead:
    return await service.signed_head(session, signer, clock.now())


@router.get(
    "/chain/public-key",
    summary="The public key that verifies the head's signature",
    response_model=PublicKeyOut,
)
async def get_public_key(signer: SignerDep) -> PublicKeyOut:
    return PublicKeyOut(
        key_id=signer.key_id, public_key=signer.public_b64(), pem=signer.public_pem()
    )


@router.get("/{notice_id}", summary="One notice", response_model=NoticeOut)
async def get_notice(notice_id: uuid.UUID, session: SessionDep) -> NoticeOut:
    return service.view(await service.get(session, notice_id))
