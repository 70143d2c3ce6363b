"""Reads of the catalogue: plain SQL on the read connection, one round trip per call.

PostgreSQL builds each category's JSON (with its vocabulary in order) and its digest, so a
read hands the bytes on without decoding or encoding them in Python.
"""

from __future__ import annotations

from typing import Any

from services.kit.reads import Reader

_CATEGORY_JSON = """
    json_build_object(
        'code', c.code, 'name', c.name, 'parent', c.parent, 'gbt4754', c.gbt4754,
        'indicators', COALESCE((
            SELECT json_agg(json_build_object(
                'code', i.code, 'name', i.name, 'unit', i.unit, 'direction', i.direction,
                'national_requirement', i.national_requirement,
                'requirement_source', i.requirement_source) ORDER BY i.position)
            FROM registry.category_indicators i WHERE i.category_code = c.code), '[]'::json)
    )::text
"""

ONE = f"SELECT body, md5(body) AS digest FROM (SELECT {_CATEGORY_JSON} AS body FROM registry.categories c WHERE c.code = $1) AS one"  # noqa: S608, E501 - constants only

PAGE = f"SELECT c.code, {_CATEGORY_JSON} AS body FROM registry.categories c WHERE ($1::text IS NULL OR c.code > $1) ORDER BY c.code LIMIT $2"  # noqa: S608, E501 - constants only


async def one(conn: Reader, code: str) -> tuple[str, str] | None:
    """The category's JSON and its digest, or None."""
    row = await conn.fetchrow(ONE, code)
    return (row["body"], row["digest"]) if row is not None else None


async def page(conn: Reader, after: str | None, limit: int) -> list[Any]:
    """``limit`` + 1 categories after ``after`` in code order: (code, JSON)."""
    return list(await conn.fetch(PAGE, after, limit + 1))
