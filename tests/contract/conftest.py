"""The three apps, in process, on a database of their own (fuzzed requests really commit)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from services.kit.migrations import upgrade
from tests.conftest import SERVICES, _drop_database, _recreate_database, _run_id, _server_url


@pytest.fixture(scope="session")
def contract_database(request: pytest.FixtureRequest, worker_id: str) -> Iterator[str]:
    server = _server_url()
    name = f"forerunner_test_{_run_id(request.config)}_{worker_id}_fuzz"
    asyncio.run(_recreate_database(server, name))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    for service in SERVICES:
        upgrade(service, url)
    yield url
    asyncio.run(_drop_database(server, name))
