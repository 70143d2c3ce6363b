"""Request ids, structured logs, metrics, body-size limits and the last-resort 500.

One pure ASGI middleware does all of it, so that every response, a crash's 500 included,
carries ``X-Request-ID`` and is counted.
"""

from __future__ import annotations

import json
import logging
import random
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.context import request_id_var
from services.kit.fresh import ReadCache
from services.kit.problems import (
    PayloadTooLarge,
    ValidationFailed,
    expected_problem,
    internal_error_body,
    problem_response,
)

log = logging.getLogger("forerunner.access")
REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key in ("service", "method", "path", "status", "duration_ms"):
            value = record.__dict__.get(key)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class Metrics:
    """Prometheus metrics of one app (its own registry, so several apps can share a process)."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route and status",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            ["service", "method", "route"],
            registry=self.registry,
        )
        self.outbox = Gauge(
            "outbox_messages",
            "Outbox messages by status (failed ones wait for an operator)",
            ["service", "status"],
            registry=self.registry,
        )
        self.service = service

    def watch_read_cache(self, cache: ReadCache) -> None:
        """Count the kept reads (kit.fresh) on /metrics: from memory or from the database."""
        self.registry.register(_ReadCacheCollector(self.service, cache))


class _ReadCacheCollector(Collector):
    def __init__(self, service: str, cache: ReadCache) -> None:
        self.service = service
        self.cache = cache

    def collect(self) -> Any:
        lookups = CounterMetricFamily(
            "read_cache_lookups",
            "Kept reads answered from memory (hit) or from the database (miss)",
            labels=["service", "outcome"],
        )
        lookups.add_metric([self.service, "hit"], self.cache.hits)
        lookups.add_metric([self.service, "miss"], self.cache.misses)
        yield lookups
        changes = CounterMetricFamily(
            "read_cache_changes", "Changes that emptied the read cache", labels=["service"]
        )
        changes.add_metric([self.service], self.cache.changes)
        yield changes
        listening = GaugeMetricFamily(
            "read_cache_listening",
            "1 while the change listener is connected (else nothing is served from memory)",
            labels=["service"],
        )
        listening.add_metric([self.service], 1 if self.cache.listening else 0)
        yield listening


# Methods a client can send are unbounded (any token is a valid method): label the rest "other".
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


# How many (method, path) pairs answered before routing RouteTable remembers the route of,
# and of paths how long.
SCANNED_PATHS = 1024
SCANNED_PATH_LENGTH = 256


class _Counted(NamedTuple):
    requests: Any
    latency: Any

    def observe(self, elapsed: float) -> None:
        self.requests.inc()
        self.latency.observe(elapsed)


class RouteTable:
    """The app's routes with their full path templates (included routers flattened).

    Metric labels come only from here (a template, or ``UNMATCHED``), never from the request's
    path: a label per distinct URL would grow without bound and show other callers' paths.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._routes: list[tuple[Any, str, frozenset[str]]] | None = None
        self._by_route: dict[int, str] = {}
        # Requests answered before routing (kit.reads.KeptAnswers) carry no route: what the
        # scan found for a method and path, for the paths asked most.
        self._scanned: dict[tuple[str, str], str] = {}

    def _load(self) -> list[tuple[Any, str, frozenset[str]]]:
        # Read on first use: the app's routers are included after the middleware is added.
        if self._routes is None:
            routes: list[BaseRoute] = list(getattr(self._app, "routes", []))
            self._routes = [
                (ctx, str(ctx.path_format), frozenset(ctx.methods or ()))
                for ctx in iter_route_contexts(routes)
            ]
            for ctx, template, _ in self._routes:
                for route in (ctx.route, ctx.original_route):
                    self._by_route[id(route)] = template
        return self._routes

    def template(self, scope: Scope) -> str:
        """The template of the route that serves the request (or would, with another method)."""
        routes = self._load()
        # The router has put the route it chose in the scope: one lookup, not a scan.
        served = self._by_route.get(id(scope.get("route")))
        if served is not None:
            return served
        asked = (scope.get("method", ""), scope.get("path", ""))
        found = self._scanned.get(asked)
        if found is None:
            found = self._scan(routes, scope)
            if len(asked[1]) <= SCANNED_PATH_LENGTH:
                if len(self._scanned) >= SCANNED_PATHS:
                    self._scanned.clear()  # paths asked once (ids) give way to those asked now
                self._scanned[asked] = found
        return found

    @staticmethod
    def _scan(routes: list[tuple[Any, str, frozenset[str]]], scope: Scope) -> str:
        partial = None
        for ctx, template, _ in routes:
            match, _ = ctx.matches(scope)
            if match == Match.FULL:
                return template
            if match == Match.PARTIAL and partial is None:
                partial = template
        return partial or UNMATCHED

    def allowed_methods(self, scope: Scope) -> list[str]:
        """Every method some route serves at this path (a 405's ``Allow``)."""
        allowed: set[str] = set()
        for ctx, _, methods in self._load():
            if ctx.matches(scope)[0] != Match.NONE:
                allowed |= methods
        return sorted(allowed)


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


def nul_field(scope: Scope, nul_header: bytes | None = None) -> str | None:
    """The first path, query parameter or header (``nul_header``, found by the caller's one
    pass over the headers) holding a NUL character, if any.

    PostgreSQL text cannot hold NUL, so such a value would fail only when it reaches the
    database: too late for a streamed answer, whose status is already sent.
    """
    if "\x00" in scope.get("path", ""):
        return "path"
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return name.replace("\x00", "") or "query"
    return nul_header.decode("latin-1") if nul_header is not None else None


def _scan_headers(raw: list[tuple[bytes, bytes]]) -> tuple[str, bytes | None, bytes | None]:
    """One pass over the raw headers, decoding only what is used: the caller's request id,
    the declared body length, and the name of the first header holding a NUL."""
    incoming, declared, nul_header = "", None, None
    for name, value in raw:
        if name == REQUEST_ID_HEADER:
            incoming = value.decode("latin-1")
        elif name == b"content-length":
            declared = value
        if nul_header is None and b"\x00" in value:
            nul_header = name
    return incoming, declared, nul_header


class RequestContextMiddleware:
    """Request id in and out, access log, metrics, body limit, and a problem+json 500."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        metrics: Metrics,
        max_body_bytes: int,
        body_limit_overrides: dict[str, int] | None = None,
        router_app: ASGIApp | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.overrides = body_limit_overrides or {}
        self.routes = RouteTable(router_app or app)
        self._children: dict[tuple[str, str, str], _Counted] = {}

    def _counted(self, method: str, route: str, status: str) -> _Counted:
        """The request counter and latency histogram of one kind of answer, counted once
        and then observed: prometheus_client's ``labels`` costs several microseconds a call.
        Labels are bounded (a route template, a method label, a status), and so is this."""
        found = self._children.get((method, route, status))
        if found is None:
            found = _Counted(
                self.metrics.requests.labels(self.service, method, route, status),
                self.metrics.latency.labels(self.service, method, route),
            )
            self._children[(method, route, status)] = found
        return found

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes

    def _log_broken_off(self, exc: BaseException) -> None:
        # Starlette wraps an error it has a handler for, once too late to use it, in a
        # RuntimeError: the cause says what happened.
        problem = expected_problem(exc)
        if problem is None and exc.__cause__ is not None:
            problem = expected_problem(exc.__cause__)
        if problem is not None:
            log.warning(
                "response broken off after it started: %s",
                problem.code,
                extra={"service": self.service},
            )
        else:
            log.exception("response broken off after it started", extra={"service": self.service})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming, declared, nul_header = _scan_headers(scope["headers"])
        request_id = (
            incoming if _VALID_REQUEST_ID.match(incoming) else f"{random.getrandbits(128):032x}"
        )
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}
        limit = self._limit_for(scope.get("path", ""))

        too_large = {"flag": False, "replaced": False}
        limit_problem = PayloadTooLarge(f"the body may be at most {limit} bytes")

        async def send_wrapper(message: Message) -> None:
            if too_large["flag"]:
                # The app saw a cut-off body; whatever it answers, the caller gets a 413.
                if not too_large["replaced"]:
                    too_large["replaced"] = True
                    await limit_problem.response()(scope, receive, send_wrapper_raw)
                return
            await send_wrapper_raw(message)

        async def send_wrapper_raw(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                raw = list(message.get("headers", []))
                raw.append((b"x-request-id", request_id.encode()))
                if message["status"] == 405:
                    # The router names only the first route of the path; a path may have several.
                    allow = ", ".join(self.routes.allowed_methods(scope)).encode()
                    raw = [(k, v) for k, v in raw if k.lower() != b"allow"] + [(b"allow", allow)]
                message = {**message, "headers": raw}
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received
            if too_large["flag"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large["flag"] = True
                    return {"type": "http.disconnect"}
            return message

        try:
            bad_field = nul_field(scope, nul_header)
            if bad_field is not None:
                await ValidationFailed.for_field(
                    bad_field, "must not contain a NUL character"
                ).response()(scope, receive, send_wrapper_raw)
            elif declared is not None and declared.isdigit() and int(declared) > limit:
                await limit_problem.response()(scope, receive, send_wrapper_raw)
            else:
                await self.app(scope, receive_wrapper, send_wrapper)
        except Exception as exc:
            if too_large["flag"]:
                if not too_large["replaced"]:
                    await limit_problem.response()(scope, receive, send_wrapper_raw)
            elif status_holder["started"]:
                # Too late for an error status: leave the body unfinished, so that the server
                # closes the connection without the chunked end and the client sees a
                # truncated transfer rather than a complete-looking file.
                self._log_broken_off(exc)
            else:
                log.exception("unhandled error", extra={"service": self.service})
                await problem_response(internal_error_body())(scope, receive, send_wrapper_raw)
        finally:
            elapsed = time.perf_counter() - started
            route = self.routes.template(scope)
            method = method_label(scope.get("method", ""))
            status = str(status_holder["status"])
            self._counted(method, route, status).observe(elapsed)
            log.info(
                "request",
                extra={
                    "service": self.service,
                    "method": method,
                    "path": scope.get("path"),
                    "status": status_holder["status"],
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)
