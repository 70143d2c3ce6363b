"""/v1/exports — the public registry in bulk, streamed (NDJSON or CSV for Excel)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from services.kit.auth import OptionalPrincipal
from services.kit.problems import PROBLEM_RESPONSES
from services.kit.streams import inline_schema
from services.registry.exports import service
from services.registry.standards.reads import SearchFilters
from services.registry.standards.router import search_filters

router = APIRouter(prefix="/v1/exports", tags=["exports"], responses=PROBLEM_RESPONSES)
SHANGHAI = ZoneInfo("Asia/Shanghai")


class NDJSONResponse(StreamingResponse):
    media_type = "application/x-ndjson"


@router.get(
    "/standards",
    summary="Export declared standards in bulk (streamed NDJSON or CSV)",
    description=(
        "The same filters and visibility as the search, every matching standard in id order: "
        "its summary, the enterprise's name and the current version's indicators. NDJSON has "
        "one object per line. CSV is UTF-8 with a BOM and CRLF line ends (Excel opens it as "
        "is); its `indicators` column is readable (`code ≥ value unit; ...`) and "
        "`indicators_json` holds the same list as JSON."
    ),
    response_class=NDJSONResponse,
    responses={
        200: {
            "description": "one row per line (NDJSON), or the CSV",
            "content": {
                # Each line's schema: the body is read as a stream, so no model is bound.
                "application/x-ndjson": {"schema": inline_schema(service.ExportRow)},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def export_standards(
    request: Request,
    principal: OptionalPrincipal,
    filters: Annotated[SearchFilters, Depends(search_filters)],
    fmt: Annotated[Literal["ndjson", "csv"], Query(alias="format")] = "ndjson",
) -> StreamingResponse:
    body, media_type, filename = await service.export(
        request.app.state.db,
        filters,
        principal,
        fmt,
        datetime.now(SHANGHAI).date(),
    )
    return StreamingResponse(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
