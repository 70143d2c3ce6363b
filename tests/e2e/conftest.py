"""A database of its own for each end-to-end module: the services commit for real."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from services.kit.migrations import upgrade
from tests.conftest import SERVICES, _drop_database, _recreate_database, _run_id, _server_url
from tests.e2e.harness import Services


@pytest.fixture(scope="module")
def e2e_database(request: pytest.FixtureRequest, worker_id: str) -> Iterator[str]:
    server = _server_url()
    name = f"forerunner_test_{_run_id(request.config)}_{worker_id}_e2e"
    asyncio.run(_recreate_database(server, name))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    for service in SERVICES:
        upgrade(service, url)
    yield url
    with contextlib.suppress(Exception):
        asyncio.run(_drop_database(server, name))


@pytest.fixture(scope="module")
def services(e2e_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    logs: Path = tmp_path_factory.mktemp("e2e")
    stack = Services(e2e_database, logs)
    try:
        for name in ("registry", "oversight", "ranking"):
            stack.start(name)
        yield stack
    finally:
        stack.stop_all()
