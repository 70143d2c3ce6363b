"""The committed contract says what the services enforce: security and required headers.

Each operation of each service is called without a token, with a token that is not valid,
and (for its headers) with a token but without the header; what happens must match what its
OpenAPI operation declares.
"""

from __future__ import annotations

import importlib
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import SERVICES, auth, bind_app, client_for, service_settings
from tests.registry.conftest import make_uscc

PLACEHOLDERS = {"standard_id": str(uuid.uuid4()), "n": "1", "code": "NOPE"}
BAD_TOKEN = {"Authorization": "Bearer not-a-token"}


def _app(service: str, database_url: str) -> Any:
    app_module = importlib.import_module(f"services.{service}.app")
    settings_module = importlib.import_module(f"services.{service}.settings")
    settings_cls = next(
        v
        for k, v in vars(settings_module).items()
        if k.endswith("Settings") and k != "ServiceSettings"
    )
    return app_module.create_app(service_settings(settings_cls, database_url))


@pytest_asyncio.fixture(loop_scope="session")
async def clients(database_url, sessionmaker) -> AsyncIterator[dict[str, Any]]:
    apps = {s: bind_app(_app(s, database_url), sessionmaker) for s in SERVICES}
    opened = {s: client_for(app) for s, app in apps.items()}
    yield {s: (apps[s], opened[s]) for s in SERVICES}
    for s in SERVICES:
        await opened[s].aclose()
        await apps[s].state.db.dispose()


def operations(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in app.openapi()["paths"].items()
        for method, op in ops.items()
    ]


def declared_auth(op: dict[str, Any]) -> str | None:
    security = op.get("security") or []
    if not security:
        return None
    return "optional" if {} in security else "required"


def url(path: str) -> str:
    for name, value in {**PLACEHOLDERS, "uscc": make_uscc()}.items():
        path = path.replace("{" + name + "}", value)
    # Any other id: a well-formed id that names nothing (ids are UUIDs, tracking numbers text).
    for name in re.findall(r"{(\w+)}", path):
        path = path.replace("{" + name + "}", str(uuid.uuid4()) if name.endswith("_id") else "NOPE")
    assert "{" not in path, f"no placeholder for {path}"
    return path


async def call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
    body = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
    return await client.request(method, url(path), **body, **kw)


@pytest.mark.parametrize("service", SERVICES)
async def test_declared_security_is_what_is_enforced(clients, service):
    app, client = clients[service]
    wrong: list[str] = []
    for method, path, op in operations(app):
        declared = declared_auth(op)
        anonymous = (await call(client, method, path)).status_code
        bad_token = (await call(client, method, path, headers=BAD_TOKEN)).status_code
        # Required: no token is a 401. Optional: no token is served. None: a token is not read.
        enforced = "required" if anonymous == 401 else "optional" if bad_token == 401 else None
        if declared != enforced:
            wrong.append(f"{method} {path}: declared {declared}, enforced {enforced}")
    assert wrong == []


def header_missing(response: httpx.Response, name: str) -> bool:
    """The answer to a request that lacks a header the service insists on."""
    if response.status_code == 428:
        return True
    errors = response.json().get("errors") or [] if response.status_code == 422 else []
    return any(e["field"].lower() == name.lower() for e in errors)


@pytest.mark.parametrize("service", SERVICES)
async def test_declared_headers_are_what_is_enforced(clients, service):
    app, client = clients[service]
    wrong: list[str] = []
    for method, path, op in operations(app):
        for parameter in op.get("parameters", []):
            if parameter["in"] != "header":
                continue
            name = parameter["name"]
            response = await call(client, method, path, headers=auth("regulator"))
            if bool(parameter.get("required")) != header_missing(response, name):
                wrong.append(
                    f"{method} {path} {name}: declared required={parameter.get('required')}, "
                    f"without it {response.status_code}"
                )
    assert wrong == []
