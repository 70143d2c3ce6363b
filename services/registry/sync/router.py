"""/v1/sync — bulk idempotent upsert from the national enterprise-standard platform."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from services.kit.auth import Principal, Role, require_roles
from services.kit.problems import PROBLEM_MEDIA_TYPE, PROBLEM_RESPONSES
from services.kit.streams import inline_schema
from services.registry.sync import service
from services.registry.sync.schemas import SyncItem, SyncReport

router = APIRouter(prefix="/v1/sync", tags=["sync"], responses=PROBLEM_RESPONSES)

SyncPrincipal = Annotated[Principal, Depends(require_roles(Role.sync))]

_ITEM = inline_schema(SyncItem)
_PROBLEM = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemBody"}}}
_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": _ITEM, "maxItems": service.MAX_ITEMS}
            },
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "one item (as above) per line"}
            },
        },
    }
}


@router.post(
    "/standards",
    summary="Bulk idempotent upsert of disclosures (national platform; role sync)",
    description=(
        "A JSON array of items, or NDJSON (one item per line) for large batches; at most "
        f"{service.MAX_ITEMS} items per request. Items are keyed by `source_id` and applied in "
        "order: the same content again changes nothing, changed content makes a new version "
        "(correction), a later item with the same `source_id` in the same batch is applied "
        "after the earlier one. A bad item is rejected with its reasons and writes nothing; "
        "the others go on. A malformed NDJSON line rejects only that line; a JSON array body "
        "that is not well-formed is refused as a whole."
    ),
    response_model=SyncReport,
    openapi_extra=_BODY,
    responses={
        413: {"description": "Too many items or too large a body", "content": _PROBLEM},
        415: {"description": "Neither JSON nor NDJSON", "content": _PROBLEM},
    },
)
async def sync_standards(request: Request, principal: SyncPrincipal) -> SyncReport:
    # No request session: the service opens a short transaction per chunk, once the body
    # is in (a stalled client holds no lock and no connection).
    return await service.sync(
        request.app.state.db.sessionmaker,
        principal,
        request.headers.get("content-type"),
        request.stream(),
    )
