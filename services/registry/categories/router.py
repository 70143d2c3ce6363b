"""/v1/categories — the catalogue (产品/服务类别) with each category's indicator vocabulary."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from services.kit.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from services.kit.problems import PROBLEM_RESPONSES, NotFound
from services.kit.reads import ReaderDep, cached_json_bytes, kept_answer
from services.registry.categories import repository
from services.registry.categories.schemas import CategoryOut

router = APIRouter(prefix="/v1/categories", tags=["categories"], responses=PROBLEM_RESPONSES)


@router.get("", summary="The category catalogue (产品/服务类别)", response_model=Page[CategoryOut])
async def list_categories(
    request: Request, conn: ReaderDep, limit: LimitQuery = 20, cursor: CursorQuery = None
) -> Response:
    after = decode_cursor(cursor, 1, [str])[0] if cursor else None

    async def page() -> bytes:
        rows = await repository.page(conn, after, limit)
        nxt = encode_cursor([rows[limit - 1]["code"]]) if len(rows) > limit else None
        items = ",".join(r["body"] for r in rows[:limit])
        return f'{{"items":[{items}],"next_cursor":{json.dumps(nxt)}}}'.encode()

    # Kept by its URL until the catalogue changes (kit.fresh).
    return await kept_answer(request, conn, page)


@router.get(
    "/{code}", summary="One category with its indicator vocabulary", response_model=CategoryOut
)
async def get_category(code: str, request: Request, conn: ReaderDep) -> Response:
    found = await conn.kept(("category", code), lambda: repository.one(conn, code))
    if found is None:
        raise NotFound(f"no category {code}")
    body, digest = found
    return cached_json_bytes(request, body.encode(), etag=f'"{digest}"')
