"""The baseline of ``bench.read``: FastAPI and an asyncpg pool answering the same reads as the
registry with the same SQL, and nothing else (no auth, no middleware, no ORM, no checks).

Served by uvicorn exactly like the registry: ``uvicorn bench._bare_read:create_app --factory``
with ``BARE_DATABASE_URL`` set.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request

from bench._common import connect_kwargs

SUMMARY = (
    "s.id, s.uscc, s.standard_no, s.standard_type, s.name, s.category_code AS category, "
    "s.region, s.status, s.publication_date, s.implementation_date, s.current_version, "
    "s.updated_at"
)


async def _init(conn: Any) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kwargs = connect_kwargs(os.environ["BARE_DATABASE_URL"])
        app.state.pool = await asyncpg.create_pool(**kwargs, min_size=10, max_size=10, init=_init)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/v1/standards/{standard_id}")
    async def one(standard_id: str, request: Request) -> dict[str, Any]:
        row = await request.app.state.pool.fetchrow(
            f"SELECT {SUMMARY}, e.name AS enterprise_name, s.withdrawn_reason, s.withdrawn_at, "  # noqa: S608 - constants only
            "s.created_at, v.content FROM registry.standards s "
            "JOIN registry.standard_versions v ON v.standard_id = s.id AND v.n = s.current_version "
            "JOIN registry.enterprises e ON e.uscc = s.uscc WHERE s.id = $1::uuid",
            standard_id,
        )
        return dict(row)

    @app.get("/v1/standards")
    async def search(
        request: Request, q: str | None = None, category: str | None = None
    ) -> dict[str, Any]:
        pool = request.app.state.pool
        if q is not None:
            grams = [q[i : i + 2] for i in range(len(q) - 1)] or [q]
            rows = await pool.fetch(
                f"SELECT {SUMMARY} FROM registry.standards s WHERE NOT s.hidden "  # noqa: S608
                "AND s.grams @> $1::text[] AND s.search_text LIKE '%' || $2 || '%' "
                "ORDER BY s.id LIMIT 21",
                grams,
                q,
            )
        else:
            rows = await pool.fetch(
                f"SELECT {SUMMARY} FROM registry.standards s WHERE NOT s.hidden "  # noqa: S608
                "AND s.category_code = $1 ORDER BY s.id LIMIT 21",
                category,
            )
        return {"items": [dict(r) for r in rows[:20]], "next_cursor": None}

    @app.get("/v1/categories/{code}")
    async def category(code: str, request: Request) -> dict[str, Any]:
        pool = request.app.state.pool
        cat = await pool.fetchrow(
            "SELECT code, name, parent, gbt4754 FROM registry.categories WHERE code = $1", code
        )
        words = await pool.fetch(
            "SELECT code, name, unit, direction, national_requirement, requirement_source "
            "FROM registry.category_indicators WHERE category_code = $1 ORDER BY position",
            code,
        )
        return {**dict(cat), "indicators": [dict(w) for w in words]}

    return app
