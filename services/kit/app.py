"""``build_app``: what every service's ``create_app(settings)`` mounts from the kit."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from services.kit import health
from services.kit.auth import (
    ServiceTokenProvider,
    TokenVerifier,
    current_principal,
    optional_principal,
)
from services.kit.background import Periodic
from services.kit.clock import Clock, SystemClock
from services.kit.db import Database, KitTables
from services.kit.fresh import Watched
from services.kit.http import ServiceClient
from services.kit.idempotency import purge_expired
from services.kit.observability import Metrics, RequestContextMiddleware, configure_logging
from services.kit.outbox import OutboxRelay
from services.kit.problems import ProblemBody, install_problem_handlers
from services.kit.reads import KeptAnswers
from services.kit.settings import ServiceSettings
from services.kit.workdays import WorkdayCalendar

CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-ID",
)
# What a browser client must be able to read from our answers.
CORS_EXPOSED_HEADERS = ("ETag", "X-Request-ID", "Location", "Retry-After")
DOCS_STATIC = Path(fastapi_offline.__file__).parent / "static"
log = logging.getLogger("forerunner.app")


class GzipWhereAccepted(GZipMiddleware):
    """Starlette's gzip, out of the way of callers that do not accept it: most API clients
    send no Accept-Encoding, and wrapping their every response costs them for nothing."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"accept-encoding" and b"gzip" in value:
                    await super().__call__(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def operation_id(route: APIRoute) -> str:
    """Stable operation ids: the handler's name, which the routers keep unique."""
    return route.name


def build_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    version: str,
    routers: Sequence[APIRouter],
    tables: KitTables,
    tags: list[dict[str, Any]] | None = None,
    peers: Mapping[str, str] | None = None,
    body_limit_overrides: dict[str, int] | None = None,
    integrity_codes: Mapping[str, str] | None = None,
    background: Sequence[Periodic] = (),
    clock: Clock | None = None,
    watched: Watched | None = None,
    kept_answer_prefixes: Sequence[str] = (),
) -> FastAPI:
    """A service app with the kit mounted.

    ``watched``: the tables the service's kept reads come from and the channel their
    triggers notify (``kit.fresh``). Without it, or with no connection to listen on,
    ``Reader.kept`` always reads the database. ``kept_answer_prefixes``: where routes keep
    their public answer by URL (``kit.reads.kept_answer``), so that a caller without
    credentials gets it, or its 304, before routing.

    ``peers`` maps a service name to its base URL; the app gets a ``ServiceClient`` for each
    (``app.state.clients``) and, when enabled, an outbox relay delivering to them.
    ``background`` steps run in every replica while the app is up (``background_enabled``).
    """
    configure_logging(settings.log_level, settings.log_json)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        relay_task: asyncio.Task[None] | None = None
        listener: asyncio.Task[None] | None = None
        db: Database = app.state.db
        if watched and db.listen_dsn and settings.read_cache_bytes:
            listener = asyncio.create_task(
                db.read_cache.listen(db.listen_connection, watched.channel)
            )
        upkeep = asyncio.create_task(_maintain(app, tables, stop))
        workers = [
            asyncio.create_task(job.run_forever(app, stop))
            for job in (background if settings.background_enabled else ())
        ]
        if settings.outbox_relay_enabled and app.state.clients:
            relay = OutboxRelay(app.state.db.sessionmaker, tables, app.state.clients)
            relay_task = asyncio.create_task(relay.run_forever(stop, settings.outbox_poll_seconds))
        # What startup built (modules, routes, models, settings: some 130,000 objects) lives
        # as long as the process. Frozen, it is left out of the collector's full passes,
        # each of which otherwise pauses every request in flight (about 90 ms here). A
        # request frees almost all it makes by reference counting, so the young generation
        # is collected after 10,000 net allocations rather than 700: under wrk, 23 young
        # passes in 8 s instead of 2,316, and 0.15 s of collecting instead of 0.78 s.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 20, 100)
        try:
            yield
        finally:
            stop.set()
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            if relay_task is not None:
                await relay_task
            await upkeep
            await asyncio.gather(*workers)
            for client in app.state.clients.values():
                await client.aclose()
            await app.state.db.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        generate_unique_id_function=operation_id,
        openapi_tags=tags,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = Database(settings, watched=watched)
    app.state.verifier = TokenVerifier(settings)
    app.state.metrics = Metrics(settings.service_name)
    if watched:
        app.state.metrics.watch_read_cache(app.state.db.read_cache)
    app.state.tables = tables
    app.state.calendar = WorkdayCalendar.from_file(settings.workday_calendar_file)
    app.state.clock = clock or SystemClock(timedelta(days=settings.clock_offset_days))
    tokens = ServiceTokenProvider(settings) if peers else None
    app.state.clients = {
        name: ServiceClient(
            url,
            token=tokens,
            timeout=settings.http_timeout_seconds,
        )
        for name, url in (peers or {}).items()
    }

    install_problem_handlers(app, integrity_codes)
    # Innermost first: compression and CORS sit inside the request context, so that their
    # answers (a preflight, say) carry the request id and are counted too.
    if kept_answer_prefixes:
        app.add_middleware(
            KeptAnswers, prefixes=tuple(kept_answer_prefixes), cache=app.state.db.read_cache
        )
    app.add_middleware(GzipWhereAccepted, minimum_size=settings.gzip_min_bytes, compresslevel=5)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "OPTIONS"],
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            max_age=600,
        )
    app.add_middleware(
        RequestContextMiddleware,
        service=settings.service_name,
        metrics=app.state.metrics,
        max_body_bytes=settings.max_body_bytes,
        body_limit_overrides=body_limit_overrides,
        router_app=app,
    )
    # Routes are matched in order, each included router's in turn: the service's own (its
    # busiest first, as the service lists them) before the probes.
    for router in routers:
        app.include_router(router)
    app.include_router(health.router)
    _mount_offline_docs(app, title)
    _document_problems(app)
    return app


async def _maintain(app: FastAPI, tables: KitTables, stop: asyncio.Event) -> None:
    """Periodic upkeep, safe to run in every replica at once (each step is idempotent)."""
    settings: ServiceSettings = app.state.settings
    while not stop.is_set():
        try:
            async with app.state.db.sessionmaker() as session, session.begin():
                await purge_expired(session, tables, settings.idempotency_ttl_hours)
        except Exception:
            log.exception("maintenance pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.maintenance_interval_seconds)


def _mount_offline_docs(app: FastAPI, title: str) -> None:
    """API docs served from the package's own files: government intranets have no CDN."""
    app.mount("/docs/static", StaticFiles(directory=DOCS_STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} — API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon.png",
        )


def _document_problems(app: FastAPI) -> None:
    """Add the problem+json schema that the error responses refer to."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault(
            "ProblemBody",
            ProblemBody.model_json_schema(ref_template="#/components/schemas/{model}"),
        )
        for name, sub in (
            ProblemBody.model_json_schema(ref_template="#/components/schemas/{model}")
            .get("$defs", {})
            .items()
        ):
            components.setdefault(name, sub)
        components["ProblemBody"].pop("$defs", None)
        _require_if_match(schema)
        _declare_auth(schema, app.routes)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _require_if_match(schema: dict[str, Any]) -> None:
    """``If-Match`` is read as optional so that its absence is a 428, but callers must send it."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter.get("name") == "If-Match":
                    parameter["required"] = True
                    parameter.get("schema", {}).pop("anyOf", None)
                    parameter["schema"] = {"type": "string", "maxLength": 1000}


def _auth_of(dependant: Dependant) -> str | None:
    """ "required" when the route needs a token, "optional" when it only reads one, else None."""
    found: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is current_principal:
            found.add("required")
        elif current.call is optional_principal:
            found.add("optional")
        stack.extend(current.dependencies)
    return "required" if "required" in found else next(iter(found), None)


def _declare_auth(schema: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    """Security as the service enforces it: FastAPI marks a token it merely reads as required.

    An operation that serves anonymous callers too (showing a token's holder more) lists the
    empty requirement beside the bearer one; one that never reads a token declares none.
    """
    paths = schema.get("paths", {})
    for ctx in iter_route_contexts(routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        auth = _auth_of(route.dependant)
        for method in route.methods or ():
            operation = paths.get(ctx.path_format, {}).get(method.lower())
            if operation is None:
                continue
            bearers = [r for r in operation.get("security", []) if r]
            if auth is None or not bearers:
                operation.pop("security", None)
            elif auth == "optional":
                operation["security"] = [{}, *bearers]
