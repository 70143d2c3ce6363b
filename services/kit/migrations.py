"""Alembic helpers: each service has its own environment under services/<name>/migrations,
its own schema and its own version table in that schema."""

from __future__ import annotations

import asyncio
from functools import cache
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.db import async_url

SERVICES_DIR = Path(__file__).resolve().parent.parent
VERSION_TABLE = "alembic_version"


def alembic_config(service: str, database_url: str | None = None) -> Config:
    location = SERVICES_DIR / service / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(location / "versions"))
    if database_url:
        cfg.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    return cfg


@cache
def head_revision(service: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(service)).get_current_head()


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, database_url), revision)


def _include_object(schema: str):  # type: ignore[no-untyped-def]
    def include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
        if type_ == "table":
            return bool(obj.schema == schema) and name != VERSION_TABLE
        return True

    return include


def _include_name(schema: str):  # type: ignore[no-untyped-def]
    def include(name, type_, parent_names):  # type: ignore[no-untyped-def]
        if type_ == "schema":
            return name == schema
        return True

    return include


def run_env(target_metadata: MetaData, schema: str) -> None:
    """The body of every service's env.py (online mode, asyncpg)."""

    def do_run(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=VERSION_TABLE,
            version_table_schema=schema,
            include_schemas=True,
            include_name=_include_name(schema),
            include_object=_include_object(schema),
            compare_type=True,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        url = context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no database URL given to the migration environment")
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.begin() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    existing = context.config.attributes.get("connection")
    if existing is not None:
        do_run(existing)
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run_async())
        return
    raise RuntimeError("run migrations outside the event loop, or pass a connection")
