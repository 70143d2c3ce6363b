"""``Idempotency-Key`` on creating writes.

The key is reserved in the request's own transaction before the work is done, and the
response is stored beside it before commit: a retry with the same key and body replays the
first response, the same key with another body is a 422, and a retry racing the first waits
on the reserved row instead of doing the work twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import OptionalPrincipal
from services.kit.db import KitTables, SessionDep
from services.kit.problems import ValidationFailed

REPLAY_HEADER = "Idempotent-Replay"
# What a retry must get back besides the body.
KEPT_HEADERS = ("ETag", "Location")
M = TypeVar("M")


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
    """The key of one creating request (or none), its scope, and where its answer is kept.

    A handler wraps its work in ``run``; headers the work sets on ``response`` (ETag,
    Location) are kept with the body, so a retry gets exactly what the first call got.
    """

    def __init__(
        self,
        key: str | None,
        scope: str,
        request_hash: str,
        *,
        session: AsyncSession,
        tables: KitTables,
        response: Response,
        status_code: int,
    ) -> None:
        self.key = key
        self.scope = scope
        self.request_hash = request_hash
        self.session = session
        self.tables = tables
        self.response = response
        self.status_code = status_code

    async def run(self, make: Callable[[], Awaitable[M]]) -> M | JSONResponse:
        """The stored answer to an earlier request with this key, or ``make()``'s, kept."""
        replay = await self._replay_or_reserve()
        if replay is not None:
            return replay
        out = await make()
        if self.key is not None:
            headers = {
                k: self.response.headers[k] for k in KEPT_HEADERS if k in self.response.headers
            }
            await self._store(jsonable_encoder(out), headers)
        return out

    async def _replay_or_reserve(self) -> JSONResponse | None:
        if self.key is None:
            return None
        table = self.tables.idempotency
        reserved = await self.session.execute(
            insert(table)
            .values(scope=self.scope, key=self.key, request_hash=self.request_hash)
            .on_conflict_do_nothing()
            .returning(table.c.key)
        )
        if reserved.first() is not None:
            return None
        # The first request may still be running: this read waits on its reserved row.
        row = (
            await self.session.execute(
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

    async def _store(self, body: Any, headers: Mapping[str, str]) -> None:
        table = self.tables.idempotency
        await self.session.execute(
            table.update()
            .where(table.c.scope == self.scope, table.c.key == self.key)
            .values(
                status_code=self.status_code,
                response={"body": body, "headers": dict(headers)},
            )
        )


async def idempotency(
    request: Request,
    response: Response,
    session: SessionDep,
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
    body = await request.body() if key is not None else b""
    who = principal.sub if principal else "anonymous"
    route = request.scope.get("route")
    operation = getattr(route, "path", request.url.path)
    scope = f"{who}|{request.method}|{operation}"[:200]
    return Idempotency(
        key,
        scope,
        canonical_hash(body),
        session=session,
        tables=request.app.state.tables,
        response=response,
        status_code=getattr(route, "status_code", None) or 200,
    )


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
