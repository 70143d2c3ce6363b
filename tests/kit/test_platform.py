"""Health, metrics, settings, pagination, migrations and the committed contracts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.db import async_url
from services.kit.migrations import head_revision
from services.kit.pagination import decode_cursor, encode_cursor
from services.kit.problems import ValidationFailed
from services.kit.settings import DEV_JWT_SECRET
from services.registry.settings import RegistrySettings
from tests.conftest import SERVICES, client_for

ROOT = Path(__file__).resolve().parents[2]


async def test_healthz_readyz_and_metrics(kit_client):
    assert (await kit_client.get("/healthz")).json() == {"status": "ok"}
    ready = await kit_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "migration": head_revision("registry")}
    await kit_client.get("/v1/kit/whoami")
    metrics = (await kit_client.get("/metrics")).text
    labels = 'method="GET",route="/v1/kit/whoami",service="registry",status="401"'
    assert f"http_requests_total{{{labels}}} 1.0" in metrics
    assert "http_request_duration_seconds_bucket" in metrics


async def test_readyz_is_503_when_the_database_is_unreachable():
    from tests.kit.conftest import make_kit_app

    app = make_kit_app("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    async with client_for(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "127.0.0.1" not in response.text


async def test_readyz_is_503_when_migrations_are_behind(database_url):
    from tests.kit.conftest import make_kit_app

    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS behind")
        await conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS behind.alembic_version (version_num varchar(32))"
        )
    await engine.dispose()

    app = make_kit_app(database_url)
    app.state.db.schema = "behind"
    async with client_for(app) as client:
        response = await client.get("/readyz")
    await app.state.db.dispose()
    assert response.status_code == 503
    assert "not current" in response.json()["detail"]


def test_production_refuses_missing_or_default_secret():
    for secret in (None, DEV_JWT_SECRET, "short"):
        with pytest.raises(ValidationError, match="production"):
            RegistrySettings(environment="production", jwt_secret=secret)
    ok = RegistrySettings(environment="production", jwt_secret="x" * 40)
    assert ok.jwt_secret is not None
    with pytest.raises(ValidationError, match="RS256"):
        RegistrySettings(environment="production", jwt_algorithm="RS256")


def test_settings_read_service_prefix_before_shared_prefix(monkeypatch):
    monkeypatch.setenv("FORERUNNER_DATABASE_URL", "postgresql://shared/db")
    monkeypatch.setenv("FORERUNNER_JWT_ISSUER", "shared-issuer")
    monkeypatch.setenv("REGISTRY_JWT_ISSUER", "registry-issuer")
    settings = RegistrySettings()
    assert settings.database_url == "postgresql://shared/db"
    assert settings.jwt_issuer == "registry-issuer"
    assert async_url(settings.database_url) == "postgresql+asyncpg://shared/db"


def test_cursor_round_trip_and_garbage():
    from datetime import UTC, date, datetime
    from uuid import uuid4

    values = [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), date(2026, 1, 2), uuid4(), 7, "a"]
    assert decode_cursor(encode_cursor(values), 5) == values
    for bad in ("%%%", encode_cursor([1]), "eyJ4IjoxfQ"):
        with pytest.raises(ValidationFailed) as info:
            decode_cursor(bad, 2)
        assert info.value.errors is not None
        assert info.value.errors[0].field == "cursor"


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_the_models(service, database_url):
    """Autogenerate against the migrated database finds nothing to do."""
    import asyncio

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from services.kit.migrations import _include_name, _include_object

    module = __import__(f"services.{service}.models", fromlist=["metadata"])

    def diff(connection):
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": _include_name(service),
                "include_object": _include_object(service),
                "compare_type": True,
            },
        )
        return compare_metadata(context, module.metadata)

    async def run():
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            result = await conn.run_sync(diff)
        await engine.dispose()
        return result

    assert asyncio.run(run()) == []


@pytest.mark.parametrize("service", SERVICES)
def test_committed_contract_equals_served_and_is_valid(service, database_url):
    from scripts.openapi import render, served

    schema = served(service)
    validate(schema)
    committed = (ROOT / "openapi" / f"{service}.json").read_text(encoding="utf-8")
    assert committed == render(schema), "run `make openapi` and commit the result"
    ids = [op["operationId"] for path in schema["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert all(op.get("summary") for path in schema["paths"].values() for op in path.values())


async def test_docs_page_loads_nothing_from_outside(kit_client):
    page = await kit_client.get("/docs")
    assert page.status_code == 200
    assert "/docs/static/swagger-ui-bundle.js" in page.text
    for external in ("cdn.", "unpkg", "jsdelivr", "googleapis"):
        assert external not in page.text
    js = await kit_client.get("/docs/static/swagger-ui-bundle.js")
    assert js.status_code == 200
    assert len(js.content) > 100_000


def test_problem_schema_is_in_the_contract():
    schema = json.loads((ROOT / "openapi" / "registry.json").read_text(encoding="utf-8"))
    assert {"type", "title", "status", "detail", "code"} <= set(
        schema["components"]["schemas"]["ProblemBody"]["properties"]
    )
