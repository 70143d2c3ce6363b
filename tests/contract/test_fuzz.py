"""Schemathesis over the three apps: no server error, no response that breaks its own schema.

In process (ASGI), with tokens that get past the auth checks: each operation is called as a
regulator, and the operations only a service may call as that service. Bounded for CI by
``FUZZ_EXAMPLES`` examples per operation.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import auth, service_settings, token

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
REGULATOR = auth("regulator", org="tj-amr")
# Operations only a peer service may call: (service, method, path) -> the caller's token.
SERVICE_CALLERS = {
    ("oversight", "POST", "/v1/notices"): auth("service", sub="service:ranking"),
}
CHECKS = [not_a_server_error, response_schema_conformance]


def _apps(database_url: str) -> dict[str, Any]:
    """The three apps wired to each other in process, as they are over HTTP."""
    from services.clients.oversight import OversightClient
    from services.clients.ranking import RankingClient
    from services.clients.registry import RegistryClient
    from services.oversight.app import create_app as oversight
    from services.oversight.settings import OversightSettings
    from services.ranking.app import create_app as ranking
    from services.ranking.settings import RankingSettings
    from services.registry.app import create_app as registry
    from services.registry.settings import RegistrySettings

    apps: dict[str, Any] = {}

    def to(name: str) -> httpx.ASGITransport:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await apps[name](scope, receive, send)

        return httpx.ASGITransport(app=app)

    caller = token("service", sub="service:ranking")
    apps["registry"] = registry(service_settings(RegistrySettings, database_url))
    apps["ranking"] = ranking(
        service_settings(RankingSettings, database_url),
        registry=RegistryClient("http://registry", caller, transport=to("registry"), retries=0),
        oversight=OversightClient("http://oversight", caller, transport=to("oversight"), retries=0),
    )
    apps["oversight"] = oversight(service_settings(OversightSettings, database_url))
    caller = token("service", sub="service:oversight")
    apps["oversight"].state.registry = RegistryClient(
        "http://registry", caller, transport=to("registry"), retries=0
    )
    apps["oversight"].state.ranking = RankingClient(
        "http://ranking", caller, transport=to("ranking"), retries=0
    )
    return apps


@pytest.fixture(scope="module")
def apps(contract_database):
    apps = _apps(contract_database)
    yield apps
    # Schemathesis keeps each app's lifespan running; stop them, and close every pool on the
    # loop that opened it, before the database goes.
    asgi.shutdown_lifespans()
    portal = asgi._get_portal()
    for app in apps.values():
        portal.call(app.state.db.dispose)


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _fuzz(operation: Any, headers: dict[str, str], failures: list[str]) -> int:
    """Call one operation with generated cases; returns how many ran."""
    cases = 0
    seen: set[str] = set()

    @given(case=operation.as_strategy())
    @FUZZ
    def run(case: Any) -> None:
        nonlocal cases
        cases += 1
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as err:
            # Collected, not raised: one report of every operation that fails, unshrunk.
            first = str(err).strip().splitlines()[0]
            if first not in seen:
                seen.add(first)
                failures.append(f"{operation.label}: {str(err).strip()[:1500]}")

    run()
    return cases


@pytest.mark.parametrize("service", ["registry", "ranking", "oversight"])
def test_no_server_error_and_no_response_outside_its_schema(service, apps, capsys):
    schema = schemathesis.openapi.from_asgi("/openapi.json", apps[service])
    failures: list[str] = []
    operations = cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        key = (service, operation.method.upper(), operation.path)
        cases += _fuzz(operation, SERVICE_CALLERS.get(key, REGULATOR), failures)
    with capsys.disabled():
        print(
            f"\nschemathesis {service}: {operations} operations, {cases} cases, "
            f"{len(failures)} failures"
        )
    assert not failures, "\n\n".join(failures)
