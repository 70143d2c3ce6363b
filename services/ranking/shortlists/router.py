"""/v1/runs/{id}/shortlist and /v1/shortlist-entries — 入围名单, 承诺书, 放弃."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from services.kit.auth import CurrentPrincipal
from services.kit.clock import ClockDep
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.problems import PROBLEM_RESPONSES
from services.ranking.catalogue import RegistryDep
from services.ranking.shortlists import service
from services.ranking.shortlists.schemas import Commitment, EntryOut, OptOut, ShortlistOut

router = APIRouter(tags=["shortlists"], responses=PROBLEM_RESPONSES)


@router.post(
    "/v1/runs/{run_id}/shortlist",
    status_code=status.HTTP_201_CREATED,
    summary="The run's body publishes its shortlist (入围名单): one entry per selected standard",
    response_model=ShortlistOut,
)
async def create_shortlist(
    run_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    registry: RegistryDep,
    clock: ClockDep,
    idem: IdempotencyDep,
) -> ShortlistOut | JSONResponse:
    async def make() -> ShortlistOut:
        shortlist, entries = await service.create(
            session,
            registry,
            principal,
            run_id,
            calendar=request.app.state.calendar,
            now=clock.now(),
        )
        return service.view(shortlist, entries)

    return await idem.run(make)


@router.get(
    "/v1/shortlist-entries",
    summary="An enterprise's own shortlist entries (a regulator: anyone's)",
    response_model=Page[EntryOut],
)
async def list_entries(
    session: SessionDep,
    principal: CurrentPrincipal,
    uscc: str | None = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[EntryOut]:
    return await service.listing(session, principal, uscc, cursor, limit)


@router.post(
    "/v1/shortlist-entries/{entry_id}/commitment",
    summary="The shortlisted enterprise commits (承诺书) by the deadline",
    response_model=EntryOut,
)
async def commit(
    entry_id: uuid.UUID,
    body: Commitment,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> EntryOut:
    entry = await service.commit(session, principal, entry_id, body, clock.now())
    return EntryOut.model_validate(entry)


@router.post(
    "/v1/shortlist-entries/{entry_id}/opt-out",
    summary="The shortlisted enterprise declines, with a reason, by the deadline",
    response_model=EntryOut,
)
async def opt_out(
    entry_id: uuid.UUID,
    body: OptOut,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> EntryOut:
    entry = await service.opt_out(session, principal, entry_id, body, clock.now())
    return EntryOut.model_validate(entry)
