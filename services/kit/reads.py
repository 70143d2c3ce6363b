"""The public read path: one round trip, serialised once, cacheable.

A public read is a plain ``SELECT``: it needs no transaction (no BEGIN and COMMIT round trips),
no ORM identity map and no second validation of what it returns. ``ReaderDep`` runs the
route's statements on the pool's asyncpg connections in autocommit; ``cached_json`` answers
with a strong ETag and ``Cache-Control``, and with a 304 before anything is serialised when
the caller already holds the same representation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Annotated, Any, NamedTuple, TypeVar

import asyncpg  # type: ignore[import-untyped]
from fastapi import Depends, Request, Response
from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.batches import K, ReadMany, V
from services.kit.db import Database
from services.kit.fresh import MISSING, ReadCache
from services.kit.problems import ServiceUnavailable

T = TypeVar("T")
JSON = "application/json"
# Public, shared caches may keep a public read briefly; a caller's own view is private.
PUBLIC_CACHE = "public, max-age=10"
PRIVATE_CACHE = "private, no-cache"

_DISCONNECTS = (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError, OSError)


class Reader:
    """The plain reads' way to the database: each statement borrows a pooled asyncpg
    connection in autocommit (the service's server settings and timeouts) and gives it back.

    A route holds no connection of its own, so a read needs no generator dependency (FastAPI
    wraps each in an exit stack and a cancel scope, which cost more than the query here).
    A connection found dead is replaced by the pool and the caller is told to retry; other
    database errors go through the same SQLSTATE mapping as the ORM's (a NUL in a query is a
    422, a timeout a 503: ``kit.problems``).
    """

    __slots__ = ("_custom", "_db")

    def __init__(self, db: Database, *, custom_plans: bool = False) -> None:
        self._db = db
        self._custom = custom_plans

    def planning_each(self) -> Reader:
        """The same reads, each planned for its own values: for statements whose best plan
        depends on them (a search gram common or rare). Plain reads reuse a generic plan."""
        return Reader(self._db, custom_plans=True)

    @property
    def memo(self) -> dict[str, Any]:
        """Small facts a service derives from its database and keeps per process (each with
        its own freshness), e.g. the search's statistics."""
        return self._db.memo

    async def kept(
        self,
        key: Hashable,
        read: Callable[[], Awaitable[T]],
        weigh: Callable[[T], int] | None = None,
        *,
        repeatable: bool = False,
    ) -> T:
        """``read()``'s answer, from memory while nothing the service's kept reads come from
        has changed since it was read (``kit.fresh``). ``key`` names everything the answer
        depends on; the caller still authorises what it shows. ``repeatable``: ``read``
        depends on nothing but ``key`` and may be called again later, for anyone."""
        return await self._db.read_cache.kept(key, read, weigh, repeatable=repeatable)

    async def batched(self, shape: Hashable, key: K, read_many: ReadMany[K, V], missing: V) -> V:
        """``key``'s answer, read together with the other keys of ``shape`` asked for at
        about the same time: one statement for them all (``kit.batches``). ``read_many``
        gets the keys and returns the answers it found; the others get ``missing``."""
        return await self._db.batches.load(shape, key, read_many, missing)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return list(await self._run("fetch", sql, args))

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self._run("fetchrow", sql, args)

    async def _run(self, method: str, sql: str, args: tuple[Any, ...]) -> Any:
        try:
            async with self._db.reader() as conn:
                if not self._custom:
                    return await getattr(conn, method)(sql, *args)
                return await _planned(conn, getattr(conn, method), sql, args)
        except _DISCONNECTS:
            raise ServiceUnavailable("the database connection was lost; retry") from None
        except asyncpg.PostgresError as err:
            raise DBAPIError(None, None, err) from err


_PLAN_EACH = "SET LOCAL plan_cache_mode = force_custom_plan"


async def _planned(
    conn: asyncpg.Connection, run: Callable[..., Awaitable[Any]], sql: str, args: tuple[Any, ...]
) -> Any:
    """``run`` in a transaction of its own that plans each statement for its values (one
    round trip more each way). Inside a caller's transaction the setting lasts to its end."""
    if conn.is_in_transaction():
        await conn.execute(_PLAN_EACH)
        return await run(sql, *args)
    await conn.execute(f"BEGIN; {_PLAN_EACH}")
    try:
        return await run(sql, *args)
    finally:
        # After an error the transaction is aborted, and COMMIT ends it as a rollback.
        await conn.execute("COMMIT")


async def read_db(request: Request) -> Reader:
    return Reader(request.app.state.db)


ReaderDep = Annotated[Reader, Depends(read_db)]


@dataclass
class Where:
    """SQL conditions with their positional parameters, for the plain reads' statements."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, template: str, *values: Any) -> None:
        """``template`` with ``{}`` for each value, in order."""
        slots = []
        for value in values:
            self.params.append(value)
            slots.append(f"${len(self.params)}")
        self.clauses.append(template.format(*slots))

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    # Weak comparison (RFC 9110 §13.1.2): W/"x" and "x" are the same representation here.
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _headers(etag: str, public: bool) -> dict[str, str]:
    return {
        "ETag": etag,
        "Cache-Control": PUBLIC_CACHE if public else PRIVATE_CACHE,
        "Vary": "Authorization, Accept-Encoding",
    }


class Answer(NamedTuple):
    """A public answer as kept: its JSON and its strong ETag (the digest of the JSON)."""

    body: bytes
    etag: str


# Where KeptAnswers leaves the error of a kept answer's read, for the route to answer.
_READ_AGAIN_FAILED = "kept_answer_read_failed"


def answer_key(scope: Scope) -> tuple[str, str, bytes]:
    """What a public answer kept by its URL is kept under: the path and the raw query."""
    return ("answer", scope["path"], scope["query_string"])


async def kept_answer(
    request: Request, conn: Reader, read: Callable[[], Awaitable[bytes]]
) -> Response:
    """A public read that is the same for every caller who sends the same URL, kept by that
    URL (``kit.fresh``). Once kept, ``KeptAnswers`` answers a caller who already holds it
    with a 304 before routing. The route validates the query first, so only a valid URL is
    ever kept; a read that depends on who asks must not come here."""

    async def make() -> Answer:
        body = await read()
        return Answer(body, f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"')

    answer = await kept_public(request, conn, make)
    assert answer is not None
    return cached_json_bytes(request, answer.body, etag=answer.etag)


async def kept_public(
    request: Request, conn: Reader, read: Callable[[], Awaitable[Answer | None]]
) -> Answer | None:
    """The public answer of this URL (None: there is none, a 404), kept by the URL like
    ``kept_answer``'s; for a route that builds its own ETag. ``read`` must depend on the URL
    alone (not on the request or its caller): once a change has forgotten the answer,
    ``KeptAnswers`` reads it again with ``read`` itself, without routing."""
    failed = request.scope.get("state", {}).get(_READ_AGAIN_FAILED)
    if failed is not None:  # KeptAnswers read it just now, and failed: not twice
        raise failed
    return await conn.kept(answer_key(request.scope), read, _answer_weight, repeatable=True)


def _answer_weight(answer: Answer | None) -> int:
    return 100 if answer is None else len(answer.body) + 200


class KeptAnswers:
    """ASGI middleware: a GET under one of ``prefixes`` whose answer is kept for its URL is
    answered here, without routing, validation or a dependency: a 304 when ``If-None-Match``
    names it, else the kept JSON with the headers the route sends. The route validated that
    URL when it kept the answer, and the same URL validates the same way. Only for callers
    without credentials: what the routes keep by URL is the public answer. Inside the request
    context (request id, metrics), gzip and CORS, like any other answer.

    An answer forgotten since (a change, its age) is read again here by the route's own read
    (``ReadCache.renewed``): the burst of questions that follows a change costs each its
    read, not a pass through routing (and the forerunner lookup reads with others in one
    statement: ``kit.batches``). Should that read find no answer (a 404) or fail, the
    request goes on to the route, which answers as it would have: with the same error,
    without reading again."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...], cache: ReadCache) -> None:
        self.app = app
        self.prefixes = prefixes
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Only what a route kept by its URL (an Answer) is served here; nothing else is kept
        # under such a key.
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(self.prefixes)
        ):
            held = b""
            for name, value in scope["headers"]:
                if name == b"if-none-match":
                    held = value
                elif name == b"authorization":
                    break
            else:
                key = answer_key(scope)
                answer = self.cache.get(key)
                if isinstance(answer, Answer):
                    self.cache.hits += 1
                elif answer is MISSING:
                    answer = await self._renewed(scope, key)
                if isinstance(answer, Answer):
                    headers = _raw_headers(answer.etag)
                    if _matches(held.decode("latin-1"), answer.etag):
                        start = {"type": "http.response.start", "status": 304, "headers": headers}
                        await send(start)
                        await send({"type": "http.response.body", "body": b""})
                        return
                    headers.append((b"content-type", JSON.encode()))
                    headers.append((b"content-length", str(len(answer.body)).encode()))
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    await send({"type": "http.response.body", "body": answer.body})
                    return
        await self.app(scope, receive, send)

    async def _renewed(self, scope: Scope, key: Hashable) -> Any:
        try:
            return await self.cache.renewed(key)
        except Exception as err:  # the route answers it, as it answers its own errors
            scope.setdefault("state", {})[_READ_AGAIN_FAILED] = err
            return None


def _raw_headers(etag: str) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode("latin-1")) for k, v in _headers(etag, True).items()]


def cached_json_bytes(
    request: Request,
    content: bytes | Callable[[], bytes],
    *,
    etag: str | None = None,
    public: bool = True,
) -> Response:
    """JSON already serialised (by PostgreSQL, say). Its ETag is its digest unless given;
    with an ETag given, ``content`` may be a callable that a 304 never calls."""
    if etag is None:
        content = content() if callable(content) else content
        etag = f'"{hashlib.blake2b(content, digest_size=16).hexdigest()}"'
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=_headers(etag, public))
    body = content() if callable(content) else content
    return Response(content=body, media_type=JSON, headers=_headers(etag, public))


def cached_json(
    request: Request,
    etag: str,
    body: BaseModel | Callable[[], Any],
    *,
    status_code: int = 200,
    public: bool = True,
) -> Response:
    """``body`` as JSON with its ETag, or a 304 when ``If-None-Match`` already names it.

    ``body`` may be a callable, so that a 304 builds nothing at all.
    """
    headers = _headers(etag, public)
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    value = body() if callable(body) and not isinstance(body, BaseModel) else body
    content = value.model_dump_json() if isinstance(value, BaseModel) else to_json(value)
    return Response(content=content, status_code=status_code, media_type=JSON, headers=headers)
