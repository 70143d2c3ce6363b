"""Test fixtures on real PostgreSQL.

Where the server comes from, in order: ``TEST_DATABASE_URL``; a server on 127.0.0.1:5432;
testcontainers where Docker runs; else the embedded pgserver under ``.data/test-pg``
(``TEST_DATABASE_URL=embedded`` forces that last one). Each
pytest-xdist worker gets its own database, migrated by all three services' migrations. A test
that uses ``session`` or an app client runs inside a transaction that is rolled back after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from services.kit.auth import Role, mint_token
from services.kit.db import async_url
from services.kit.migrations import upgrade
from services.kit.settings import DEV_JWT_SECRET

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("registry", "ranking", "oversight")
# Data the migrations load (the catalogue) and their bookkeeping: never emptied.
REFERENCE_TABLES = ("alembic_version", "categories", "category_indicators")
_embedded: Any = None


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    return Path("/var/run/docker.sock").exists() or bool(os.environ.get("DOCKER_HOST"))


def _server_url() -> str:
    """An asyncpg URL for a maintenance database on the server the tests use."""
    global _embedded
    wanted = os.environ.get("TEST_DATABASE_URL", "")
    if wanted and wanted != "embedded":
        return async_url(wanted)
    if not wanted and _port_open("127.0.0.1", 5432):
        return "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    if not wanted and _docker_available():
        try:
            from testcontainers.postgres import PostgresContainer

            container = PostgresContainer("postgres:16-alpine", driver="asyncpg")
            container.start()
            _embedded = container
            return str(container.get_connection_url())
        except Exception:  # noqa: S110 - no engine after all: fall through to the embedded one
            pass
    from services.kit import embedded

    server, url = embedded.start(ROOT / ".data" / "test-pg")
    _embedded = server
    return url


def _asyncpg_dsn(url: str) -> tuple[str, dict[str, Any]]:
    u = make_url(url)
    kwargs: dict[str, Any] = {
        "user": u.username or "postgres",
        "password": u.password,
        "database": u.database or "postgres",
        "host": u.query.get("host") or u.host or "127.0.0.1",
        "port": u.port or 5432,
    }
    return "", kwargs


async def _recreate_database(server_url: str, name: str) -> None:
    _, kwargs = _asyncpg_dsn(server_url)
    conn = await asyncpg.connect(**kwargs)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        # LC_CTYPE C is the trap for Chinese search (pg_trgm finds no trigrams there): the
        # whole suite runs under it, so search must not depend on the server's locale.
        await conn.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
            "LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    finally:
        await conn.close()


def _run_id(config: pytest.Config) -> str:
    """One id per test run, shared by its xdist workers: two runs on one server never meet."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return str(workerinput["forerunner_run_id"])
    return str(config.stash.setdefault(_RUN_ID, f"{os.getpid()}_{secrets.token_hex(3)}"))


_RUN_ID = pytest.StashKey[str]()


def pytest_configure_node(node: Any) -> None:
    """xdist controller: hand the run's id to each worker."""
    node.workerinput["forerunner_run_id"] = _run_id(node.config)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _drop_abandoned(server_url: str) -> None:
    """Drop the databases of earlier runs whose pytest process is gone (killed runs)."""
    _, kwargs = _asyncpg_dsn(server_url)
    conn = await asyncpg.connect(**kwargs)
    try:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'forerunner_test_%'"
        )
        for (name,) in names:
            pid = name.removeprefix("forerunner_test_").split("_", 1)[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                with contextlib.suppress(asyncpg.PostgresError):
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _drop_database(server_url: str, name: str) -> None:
    _, kwargs = _asyncpg_dsn(server_url)
    conn = await asyncpg.connect(**kwargs)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url(worker_id: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, fully migrated database for this test worker of this run."""
    server_url = _server_url()
    if worker_id in ("master", "gw0"):
        with contextlib.suppress(Exception):
            asyncio.run(_drop_abandoned(server_url))
    name = f"forerunner_test_{_run_id(request.config)}_{worker_id}"
    asyncio.run(_recreate_database(server_url, name))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    for service in SERVICES:
        upgrade(service, url)
    yield url
    with contextlib.suppress(Exception):
        asyncio.run(_drop_database(server_url, name))
    if _embedded is not None:
        # Best effort at the very end of the session.
        with contextlib.suppress(Exception):
            _embedded.stop() if hasattr(_embedded, "stop") else _embedded.cleanup()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(database_url, pool_size=5, max_overflow=10)
    yield eng
    await eng.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield conn
        if outer.is_active:
            await outer.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions whose commits become savepoints of the test's outer transaction."""
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest_asyncio.fixture(loop_scope="session")
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as s:
        yield s


@pytest_asyncio.fixture(loop_scope="session")
async def committed(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Real commits (for races and concurrency); the service tables are emptied afterwards."""
    yield async_sessionmaker(engine, expire_on_commit=False)
    async with engine.begin() as conn:
        rows = await conn.execute(
            text(
                "SELECT schemaname, tablename FROM pg_tables "
                "WHERE schemaname = ANY(:schemas) AND NOT tablename = ANY(:keep)"
            ),
            {"schemas": list(SERVICES), "keep": list(REFERENCE_TABLES)},
        )
        names = [f'"{s}"."{t}"' for s, t in rows]
        if names:
            await conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))


def token(role: Role | str, org: str | None = None, sub: str | None = None, **kw: Any) -> str:
    return mint_token(
        DEV_JWT_SECRET, role=role, sub=sub or f"{role}:{org or 'test'}", org=org, **kw
    )


def auth(role: Role | str, org: str | None = None, sub: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, org, sub)}"}


def bind_app(app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]) -> FastAPI:
    """Point an app's per-request sessions and plain reads at the test's transaction.

    The sessions keep the app's own ``info`` (its read cache: a commit that wrote empties it)."""
    info = {**app.state.db.sessionmaker.kw.get("info", {}), **sessionmaker.kw.get("info", {})}
    app.state.db.sessionmaker = async_sessionmaker(**{**sessionmaker.kw, "info": info})
    bind = sessionmaker.kw["bind"]
    if isinstance(bind, AsyncConnection):
        # One connection serves one read at a time, as a pool of one would: requests asked
        # together (asyncio.gather) take turns.
        turn = asyncio.Lock()

        @contextlib.asynccontextmanager
        async def reader() -> AsyncIterator[Any]:
            # Inside the test's transaction a failed read would abort it: a savepoint keeps
            # it to the read, as autocommit does in production.
            async with turn, bind.begin_nested():
                yield (await bind.get_raw_connection()).driver_connection

        app.state.db.reader = reader
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def service_settings(cls: Any, database_url: str, **overrides: Any) -> Any:
    defaults: dict[str, Any] = {
        "environment": "test",
        "outbox_relay_enabled": False,
        "background_enabled": False,
        "log_json": False,
        "log_level": "WARNING",
    }
    return cls(database_url=database_url, **(defaults | overrides))


@pytest_asyncio.fixture(loop_scope="session")
async def registry_client(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.registry.app import create_app
    from services.registry.settings import RegistrySettings

    app = bind_app(create_app(service_settings(RegistrySettings, database_url)), sessionmaker)
    async with client_for(app) as client:
        yield client
    await app.state.db.dispose()
