"""/v1/changes — the change feed, in transaction order, resumable from any cursor."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from services.kit.auth import Principal, Role, require_roles
from services.kit.db import SessionDep
from services.kit.pagination import LimitQuery, decode_cursor, encode_cursor
from services.kit.problems import PROBLEM_RESPONSES
from services.registry.changes import repository

router = APIRouter(prefix="/v1/changes", tags=["changes"], responses=PROBLEM_RESPONSES)


class ChangeOut(BaseModel):
    kind: str = Field(
        description="enterprise.created|updated|verified|unverified|blocked|unblocked, "
        "standard.created|versioned|withdrawn"
    )
    uscc: str
    standard_id: uuid.UUID | None
    version: int | None
    category: str | None
    at: datetime
    cursor: str = Field(description="resume after this change with ?after=<cursor>")


class ChangePage(BaseModel):
    items: list[ChangeOut]
    next_cursor: str | None = Field(
        description="pass as ?after= to continue; at the end it is the cursor of the last "
        "change, so a consumer can keep polling with it"
    )


@router.get(
    "",
    summary="Change feed (变更流): every change exactly once, in order",
    response_model=ChangePage,
)
async def read_changes(
    session: SessionDep,
    _: Annotated[Principal, Depends(require_roles(Role.service, Role.sync, Role.regulator))],
    after: str | None = Query(default=None, max_length=200, description="cursor; omit to start"),
    limit: LimitQuery = 100,
) -> ChangePage:
    position = None
    if after:
        txid, change_id = decode_cursor(after, 2, (int, int), field="after")
        position = (txid, change_id)
    rows = await repository.read(session, position, limit)
    items = [
        ChangeOut(
            kind=r.kind,
            uscc=r.uscc,
            standard_id=r.standard_id,
            version=r.version,
            category=r.category_code,
            at=r.at,
            cursor=encode_cursor([r.txid, r.id]),
        )
        for r in rows[:limit]
    ]
    # Unlike other lists, the feed never ends: the last cursor is where to poll from next.
    nxt = items[-1].cursor if items else after
    return ChangePage(items=items, next_cursor=nxt)
