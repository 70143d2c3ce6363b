"""``Idempotency-Key`` on creating writes.

The key is reserved in the request's own transaction before the work is done, and the
response is stored beside it before commit: a retry with the same key and body replays the
first response, the same key with another body is a 422, and a retry racing the first waits
on the reserved row instead of doing the work twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import OptionalPrincipal
from services.kit.db import KitTables
from services.kit.problems import ValidationFailed

REPLAY_HEADER = "Idempotent-Replay"


async def purge_expired(session: AsyncSession, tables: KitTables, ttl_hours: float) -> int:
    """Forget keys older than the retention period (they hold whole responses)."""
    table = tables.idempotency
    result = await session.execute(
        table.delete().where(
            table.c.created_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, ttl_hours * 3600)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def canonical_hash(body: bytes) -> str:
    """Hash of the body as JSON, so whitespace and key order don't count as a change."""
    try:
        canonical = json.dumps(
            json.loads(body or b"null"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


class Idempotency:
    """The key of one request (or none), with its scope: who called and which operation."""

    def __init__(self, key: str | None, scope: str, request_hash: str) -> None:
        self.key = key
        self.scope = scope
        self.request_hash = request_hash

    async def replay_or_reserve(
        self, session: AsyncSession, tables: KitTables
    ) -> JSONResponse | None:
        """The stored response of an earlier request with this key, or None to go ahead."""
        if self.key is None:
            return None
        table = tables.idempotency
        reserved = await session.execute(
            insert(table)
            .values(scope=self.scope, key=self.key, request_hash=self.request_hash)
            .on_conflict_do_nothing()
            .returning(table.c.key)
        )
        if reserved.first() is not None:
            return None
        row = (
            await session.execute(
                select(table.c.request_hash, table.c.status_code, table.c.response).where(
                    table.c.scope == self.scope, table.c.key == self.key
                )
            )
        ).one()
        if row.request_hash != self.request_hash:
            raise ValidationFailed.for_field(
                "Idempotency-Key",
                "this key was already used with a different request body",
                code="idempotency_key_reused",
            )
        stored = row.response or {}
        return JSONResponse(
            stored.get("body"),
            status_code=row.status_code or 200,
            headers={**stored.get("headers", {}), REPLAY_HEADER: "true"},
        )

    async def remember(
        self,
        session: AsyncSession,
        tables: KitTables,
        response: Response,
        status_code: int,
        body: BaseModel,
    ) -> None:
        """Store a route's result with the headers it set that a retry needs (its ETag)."""
        etag = response.headers.get("ETag")
        await self.store(
            session,
            tables,
            status_code,
            body.model_dump(mode="json"),
            {"ETag": etag} if etag else None,
        )

    async def store(
        self,
        session: AsyncSession,
        tables: KitTables,
        status_code: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Keep the response (and headers such as ETag) for a retry to get the same."""
        if self.key is None:
            return
        table = tables.idempotency
        await session.execute(
            table.update()
            .where(table.c.scope == self.scope, table.c.key == self.key)
            .values(
                status_code=status_code, response={"body": body, "headers": dict(headers or {})}
            )
        )


async def idempotency(
    request: Request,
    principal: OptionalPrincipal,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Retry-safe key: the same key and body returns the first result",
        ),
    ] = None,
) -> Idempotency:
    body = await request.body()
    who = principal.sub if principal else "anonymous"
    route = request.scope.get("route")
    operation = getattr(route, "path", request.url.path)
    scope = f"{who}|{request.method}|{operation}"[:200]
    return Idempotency(key, scope, canonical_hash(body))


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
