"""/metrics: bounded labels (route templates, never raw paths) and who may read it."""

from __future__ import annotations

import re
import uuid

import pytest

from services.kit.observability import SCANNED_PATH_LENGTH, SCANNED_PATHS, RouteTable
from services.kit.settings import Environment
from services.registry.settings import RegistrySettings
from tests.conftest import auth, client_for
from tests.kit.conftest import make_kit_app
from tests.registry.conftest import declare, make_uscc, register

SERIES = re.compile(r"^http_requests_total\{(.*)\} ", re.MULTILINE)


def series(metrics_text: str) -> set[str]:
    return set(SERIES.findall(metrics_text))


async def test_unknown_ids_add_no_series_and_no_paths(registry_client):
    for _ in range(3):  # warm up: the series the loop below may legitimately use
        await registry_client.get(f"/v1/standards/{uuid.uuid4()}")
        await registry_client.get(f"/v1/enterprises/{uuid.uuid4().hex[:18]}")
        await registry_client.get(f"/nowhere/{uuid.uuid4()}")
    await registry_client.get("/metrics")
    before = series((await registry_client.get("/metrics")).text)

    asked = [str(uuid.uuid4()) for _ in range(1000)]
    for i, id_ in enumerate(asked):
        if i % 10 == 0:
            await registry_client.get(f"/nowhere/{id_}")
        elif i % 10 == 1:
            await registry_client.get(f"/v1/enterprises/{id_[:18]}")
        else:
            await registry_client.get(f"/v1/standards/{id_}")
    text = (await registry_client.get("/metrics")).text

    assert series(text) == before
    assert not any(id_[:18] in text for id_ in asked)
    assert 'route="/v1/standards/{standard_id}"' in text
    assert 'route="unmatched"' in text


async def test_invented_methods_share_one_label(registry_client):
    for i in range(20):
        await registry_client.request(f"BREW{i}", "/v1/standards")
    text = (await registry_client.get("/metrics")).text
    assert "BREW" not in text
    assert 'method="other",route="/v1/standards"' in text


async def test_a_405_allows_every_method_of_the_path(registry_client):
    response = await registry_client.delete(f"/v1/enterprises/{uuid.uuid4().hex[:18]}")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH"
    assert (await registry_client.put("/v1/standards")).headers["allow"] == "GET, POST"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        (auth("enterprise", "91120116MA05JXXX0X"), 403),
        (auth("sync"), 403),
        (auth("regulator"), 200),
        (auth("service"), 200),
    ],
)
async def test_metrics_behind_a_token_when_configured(database_url, headers, status):
    app = make_kit_app(database_url, metrics_access="token")
    async with client_for(app) as client:
        response = await client.get("/metrics", headers=headers)
    await app.state.db.dispose()
    assert response.status_code == status
    if status == 200:
        assert "http_requests_total" in response.text
    else:
        assert "http_requests_total" not in response.text


def test_metrics_are_public_in_development_and_need_a_token_in_production():
    assert not RegistrySettings(environment=Environment.development).metrics_need_token
    production = RegistrySettings(environment=Environment.production, jwt_secret="x" * 40)
    assert production.metrics_need_token
    public = RegistrySettings(
        environment=Environment.production, jwt_secret="x" * 40, metrics_access="public"
    )
    assert not public.metrics_need_token


def requests_of(text: str, route: str, status: str) -> float:
    found = re.search(
        rf'^http_requests_total\{{method="GET",route="{re.escape(route)}",'
        rf'service="registry",status="{status}"\}} (\S+)',
        text,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


async def test_answers_served_before_routing_are_counted_under_their_route(registry_client):
    app = registry_client._transport.app  # type: ignore[attr-defined]
    app.state.db.read_cache.listening = True
    try:
        uscc = make_uscc()
        await register(registry_client, uscc)
        shown = (await declare(registry_client, uscc)).json()["id"]
        route = "/v1/standards/{standard_id}"
        before = (await registry_client.get("/metrics")).text
        first = await registry_client.get(f"/v1/standards/{shown}")  # routed, then kept
        for _ in range(5):  # answered before routing: the route's template all the same
            again = await registry_client.get(
                f"/v1/standards/{shown}", headers={"If-None-Match": first.headers["ETag"]}
            )
            assert again.status_code == 304
        after = (await registry_client.get("/metrics")).text
        assert requests_of(after, route, "200") == requests_of(before, route, "200") + 1
        assert requests_of(after, route, "304") == requests_of(before, route, "304") + 5
    finally:
        app.state.db.read_cache.listening = False
        app.state.db.read_cache.changed()


def test_the_routes_of_paths_answered_before_routing_are_remembered_within_bounds():
    app = make_kit_app("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    table = RouteTable(app)
    ids = [str(uuid.uuid4()) for _ in range(SCANNED_PATHS + 10)]
    for id_ in ids:
        scope = {"type": "http", "method": "GET", "path": f"/healthz/{id_}"}
        assert table.template(scope) == "unmatched"
    assert len(table._scanned) <= SCANNED_PATHS
    for _ in range(2):
        assert table.template({"type": "http", "method": "GET", "path": "/healthz"}) == "/healthz"
        # Another method at the same path: the route that would serve it, not a 'GET' memo.
        assert table.template({"type": "http", "method": "DELETE", "path": "/healthz"}) == (
            "/healthz"
        )
    long = "/healthz/" + "x" * SCANNED_PATH_LENGTH
    assert table.template({"type": "http", "method": "GET", "path": long}) == "unmatched"
    assert ("GET", long) not in table._scanned
