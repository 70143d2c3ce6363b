"""Oversight fixtures: the app on a FixedClock, a real registry app behind the registry client,
and a small stand-in ranking (ranking has no routes yet) that records what it is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clients.ranking import RankingClient
from services.clients.registry import RegistryClient
from services.kit.clock import FixedClock
from services.oversight.app import create_app
from services.oversight.settings import OversightSettings
from tests.conftest import auth, bind_app, client_for, service_settings
from tests.registry.conftest import enterprise_body, make_uscc, standard_body

# Monday 2026-04-27, 10:00 in Shanghai: the week before Golden Week (May 1–5, 2026).
START = datetime(2026, 4, 27, 2, 0, tzinfo=UTC)
REGULATOR = auth("regulator", sub="regulator:li")
RANKING_SERVICE = auth("service", sub="service:ranking")


@dataclass
class StandInRanking:
    """What ranking would answer, and what it received (a stand-in until ranking has routes)."""

    titles: dict[str, dict[str, Any]] = field(default_factory=dict)
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[tuple[str, str | None, Any]] = field(default_factory=list)
    down: bool = False


def stand_in_ranking_app(state: StandInRanking) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def maybe_down(request: Request, call_next: Any) -> Any:
        if state.down:
            return JSONResponse({"code": "service_unavailable"}, status_code=503)
        return await call_next(request)

    @app.get("/v1/titles/{title_id}")
    async def title(title_id: str) -> Any:
        if title_id not in state.titles:
            return JSONResponse({"code": "not_found", "detail": "no title"}, status_code=404)
        return state.titles[title_id]

    @app.get("/v1/plans/{plan_id}")
    async def plan(plan_id: str) -> Any:
        if plan_id not in state.plans:
            return JSONResponse({"code": "not_found", "detail": "no plan"}, status_code=404)
        return state.plans[plan_id]

    @app.get("/v1/forerunners")
    async def forerunners(uscc: str, standard_no: str) -> Any:
        items = [
            t
            for t in state.titles.values()
            if t.get("uscc") == uscc and t.get("standard_no") == standard_no
        ]
        return {"items": items, "next_cursor": None}

    @app.post("/v1/titles/{title_id}/revocation")
    async def revoke(
        title_id: str, request: Request, key: str | None = Header(None, alias="Idempotency-Key")
    ) -> Any:
        state.received.append((f"revocation:{title_id}", key, await request.json()))
        return {"id": title_id, "status": "revoked"}

    @app.post("/v1/publicity-outcomes")
    async def outcome(
        request: Request, key: str | None = Header(None, alias="Idempotency-Key")
    ) -> Any:
        state.received.append(("publicity-outcome", key, await request.json()))
        return {"ok": True}

    return app


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def ranking() -> StandInRanking:
    return StandInRanking()


def oversight_settings(database_url: str, **over: Any) -> OversightSettings:
    settings: OversightSettings = service_settings(
        OversightSettings, database_url, background_enabled=False, **over
    )
    return settings


@pytest_asyncio.fixture(loop_scope="session")
async def registry_app(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[FastAPI]:
    from services.registry.app import create_app as create_registry
    from services.registry.settings import RegistrySettings

    app = bind_app(create_registry(service_settings(RegistrySettings, database_url)), sessionmaker)
    yield app
    await app.state.db.dispose()


def wire(app: FastAPI, registry_app: FastAPI, ranking: StandInRanking | str) -> FastAPI:
    """Point the oversight app's peers at in-process apps (or ranking at a URL)."""
    app.state.registry = RegistryClient(
        "http://registry", None, transport=httpx.ASGITransport(app=registry_app), retries=0
    )
    if isinstance(ranking, str):
        app.state.ranking = RankingClient(ranking, None, retries=0, timeout=2)
    else:
        transport = httpx.ASGITransport(app=stand_in_ranking_app(ranking))
        app.state.ranking = RankingClient("http://ranking", None, transport=transport, retries=0)
    return app


@pytest_asyncio.fixture(loop_scope="session")
async def app(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    registry_app: FastAPI,
    ranking: StandInRanking,
) -> AsyncIterator[FastAPI]:
    built = create_app(oversight_settings(database_url), clock=clock)
    bind_app(built, sessionmaker)
    wire(built, registry_app, ranking)
    yield built
    await built.state.db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


@pytest_asyncio.fixture(loop_scope="session")
async def registry(registry_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(registry_app) as c:
        yield c


async def declared_standard(registry: httpx.AsyncClient, **over: Any) -> dict[str, Any]:
    """A registered enterprise with one declared standard, as the registry answers it."""
    uscc = make_uscc()
    headers = auth("enterprise", org=uscc)
    r = await registry.post("/v1/enterprises", json=enterprise_body(uscc), headers=headers)
    assert r.status_code == 201, r.text
    r = await registry.post("/v1/standards", json=standard_body(uscc, **over), headers=headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def publicity_notice(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "shortlist_publicity",
        "title": "2026年度电饭锅企业标准领跑者入围名单公示",
        "body": "现将入围名单予以公示。公示期内如有异议，请向监督机构提出。",
        "subject": {"type": "run", "id": "run-1"},
        "window": {"working_days": 5},
        "payload": {"plan_id": "plan-1", "entries": 3},
    }
    body.update(over)
    return body
