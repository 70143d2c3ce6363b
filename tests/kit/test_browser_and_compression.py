"""What a browser on the city portal needs (CORS), and compression where it pays."""

from __future__ import annotations

import pytest_asyncio

from services.registry.app import create_app
from services.registry.settings import RegistrySettings
from tests.conftest import bind_app, client_for, service_settings

PORTAL = "https://portal.tj.example.cn"


@pytest_asyncio.fixture(loop_scope="session")
async def portal_client(database_url, sessionmaker):
    settings = service_settings(RegistrySettings, database_url, cors_origins=[PORTAL])
    app = bind_app(create_app(settings), sessionmaker)
    async with client_for(app) as client:
        yield client
    await app.state.db.dispose()


async def test_no_cors_headers_unless_origins_are_configured(registry_client):
    response = await registry_client.get("/v1/categories/HA", headers={"Origin": PORTAL})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_preflight_from_the_portal_is_answered(portal_client):
    response = await portal_client.options(
        "/v1/standards/00000000-0000-0000-0000-000000000000/withdrawal",
        headers={
            "Origin": PORTAL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, if-match, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PORTAL
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "if-match" in allowed
    assert "authorization" in allowed
    assert "x-request-id" in response.headers


async def test_a_browser_may_read_etag_and_request_id(portal_client):
    response = await portal_client.get("/v1/categories/HA", headers={"Origin": PORTAL})
    assert response.headers["access-control-allow-origin"] == PORTAL
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "x-request-id", "location", "retry-after"} <= exposed


async def test_other_origins_get_no_grant(portal_client):
    response = await portal_client.get(
        "/v1/categories/HA", headers={"Origin": "https://evil.example.com"}
    )
    assert "access-control-allow-origin" not in response.headers
    preflight = await portal_client.options(
        "/v1/categories",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 400


async def test_large_lists_are_gzipped_small_answers_are_not(registry_client):
    big = await registry_client.get(
        "/v1/categories", params={"limit": 200}, headers={"Accept-Encoding": "gzip"}
    )
    assert big.headers.get("content-encoding") == "gzip"
    assert "accept-encoding" in big.headers["vary"].lower()
    raw = await registry_client.get("/v1/categories", params={"limit": 200})
    assert big.json() == raw.json()  # httpx decodes; the content is the same
    small = await registry_client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
