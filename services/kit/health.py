"""Liveness, readiness (database reachable, migrations at head) and Prometheus metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import func, select, text

from services.kit.auth import OptionalPrincipal, Role
from services.kit.db import Database
from services.kit.migrations import VERSION_TABLE, head_revision
from services.kit.problems import Forbidden, ServiceUnavailable, Unauthorized

router = APIRouter(tags=["health"])
METRICS_READERS = (Role.regulator, Role.service)


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    migration: str


@router.get("/healthz", summary="Alive", operation_id="healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Ready: database reachable and migrations current",
    operation_id="readyz",
    responses={503: {"description": "Not ready"}},
)
async def readyz(request: Request) -> Readiness:
    db: Database = request.app.state.db
    service: str = request.app.state.settings.service_name
    expected = head_revision(service)
    try:
        async with db.engine.connect() as conn:
            current = (
                await conn.execute(
                    # The schema name comes from the service's own code, never from a request.
                    text(f'SELECT version_num FROM "{db.schema}".{VERSION_TABLE}')  # noqa: S608
                )
            ).scalar_one_or_none()
    except Exception:
        raise ServiceUnavailable("the database is not reachable or not migrated") from None
    if current != expected:
        raise ServiceUnavailable(f"migrations are not current (at {current}, head {expected})")
    return Readiness(status="ready", migration=str(current))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description=(
        "Public unless the service is configured with `METRICS_ACCESS=token` (the default in "
        "production): then only a regulator's or a service's bearer token may read it."
    ),
    operation_id="metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(request: Request, principal: OptionalPrincipal) -> Response:
    if request.app.state.settings.metrics_need_token:
        if principal is None:
            raise Unauthorized("reading the metrics needs a token")
        if principal.role not in METRICS_READERS:
            raise Forbidden("only regulators and services may read the metrics")
    metrics = request.app.state.metrics
    outbox = request.app.state.tables.outbox
    try:
        async with request.app.state.db.engine.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.status, func.count()).group_by(outbox.c.status)
            )
            counts = {status: count for status, count in rows}
        for status in ("pending", "delivered", "failed"):
            metrics.outbox.labels(metrics.service, status).set(counts.get(status, 0))
    except Exception:  # noqa: S110 - metrics must answer even when the database does not
        pass
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
