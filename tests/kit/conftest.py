"""A small app built with the kit alone, with routes that exercise each piece."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest_asyncio
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit import audit
from services.kit.app import build_app
from services.kit.auth import CurrentPrincipal, Principal, Role, require_roles
from services.kit.db import SessionDep
from services.kit.idempotency import IdempotencyDep
from services.kit.problems import Conflict
from services.kit.reads import ReaderDep
from services.registry.models import kit_tables
from services.registry.settings import RegistrySettings
from tests.conftest import bind_app, client_for, service_settings


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int


router = APIRouter(prefix="/v1/kit")


@router.post("/things", status_code=201)
async def create_thing(
    body: Thing, session: SessionDep, idem: IdempotencyDep, principal: CurrentPrincipal
) -> dict[str, object]:
    async def make() -> dict[str, object]:
        await audit.record(session, kit_tables, principal, "create", "thing", body.name)
        return {"name": body.name, "size": body.size}

    return await idem.run(make)  # type: ignore[return-value]


@router.post("/things-then-fail")
async def create_then_fail(body: Thing, session: SessionDep) -> dict[str, str]:
    await audit.record(session, kit_tables, None, "create", "thing", body.name)
    raise Conflict("refused after writing")


@router.post("/things-then-crash")
async def create_then_crash(body: Thing, session: SessionDep) -> dict[str, str]:
    await audit.record(session, kit_tables, None, "create", "thing", body.name)
    raise RuntimeError("password=hunter2 SELECT * FROM registry.secret_table")


@router.get("/slow")
async def slow(session: SessionDep, seconds: float = 0) -> dict[str, float]:
    await session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
    return {"slept": seconds}


@router.get("/slow-read")
async def slow_read(db: ReaderDep, seconds: float = 0) -> dict[str, float]:
    await db.fetch("SELECT pg_sleep($1)", seconds)
    return {"slept": seconds}


@router.get("/whoami")
async def whoami(principal: CurrentPrincipal) -> dict[str, str | None]:
    return {"sub": principal.sub, "role": principal.role, "org": principal.org}


@router.get("/regulated")
async def regulated_only(
    principal: Annotated[Principal, Depends(require_roles(Role.regulator))],
) -> dict[str, str]:
    return {"sub": principal.sub}


def make_kit_app(database_url: str, **overrides: object) -> FastAPI:
    settings = service_settings(RegistrySettings, database_url, **overrides)
    return build_app(
        settings,
        title="kit test",
        description="kit test app",
        version="0",
        routers=[router],
        tables=kit_tables,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def kit_app(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[FastAPI]:
    app = bind_app(make_kit_app(database_url, max_body_bytes=4096), sessionmaker)
    yield app
    await app.state.db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def kit_client(kit_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(kit_app) as client:
        yield client
