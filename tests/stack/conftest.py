"""The stack (``make stack``) started for a test: nginx, PgBouncer and two replicas each."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from scripts.gateway import SERVICES
from scripts.stack import Stack, StackUnavailable, ensure_installed, free_port
from services.kit.migrations import upgrade
from tests.conftest import _drop_database, _recreate_database, _run_id, _server_url
from tests.e2e.harness import next_years_calendar

ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT = 120


@pytest.fixture(scope="session")
def binaries() -> dict[str, str]:
    """nginx and PgBouncer, installed from Debian's packages when missing; else a skip."""
    try:
        return ensure_installed()
    except StackUnavailable as err:
        pytest.skip(f"the stack needs nginx and PgBouncer: {err}")


@pytest.fixture(scope="module")
def stack_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of its own: the stack commits, and other tests count what they find."""
    server = _server_url()
    module = request.module.__name__.rsplit(".", 1)[-1]
    name = f"forerunner_test_{_run_id(request.config)}_{module}"
    asyncio.run(_recreate_database(server, name))
    yield make_url(server).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_drop_database(server, name))


@pytest.fixture(scope="module")
def stack(binaries, stack_database, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """``python -m scripts.stack`` until it reports ready; stopped by its pid (SIGTERM)."""
    run = tmp_path_factory.mktemp("stack")
    info = run / "info.json"
    env = {
        **os.environ,
        "DATABASE_URL": stack_database,
        "STACK_RUN_DIR": str(run / "run"),
        "STACK_INFO": str(info),
        "GATEWAY_PORT": str(free_port()),
        "FORERUNNER_LOG_LEVEL": "INFO",
        # Outbox and background loops poll often, so that both replicas really run them.
        "FORERUNNER_OUTBOX_POLL_SECONDS": "0.2",
    }
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        while not info.exists():
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                pytest.fail(f"the stack exited with {proc.returncode}:\n{out[-3000:]}")
            if time.monotonic() - started > START_TIMEOUT:
                pytest.fail(f"the stack was not ready within {START_TIMEOUT} s")
            time.sleep(0.2)
        data = json.loads(info.read_text())
        data["startup_seconds"] = round(time.monotonic() - started, 2)
        data["process"] = proc
        yield data
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def live_stack(binaries, stack_database, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The same stack run from this process, so that a walk can restart its replicas with a
    clock offset (``Stack.restart``); every background loop polls often, in every replica."""
    run = tmp_path_factory.mktemp("live-stack")
    for service in SERVICES:
        upgrade(service, stack_database)
    stack = Stack(
        run=run,
        database_url=stack_database,
        gateway_port=free_port(),
        settings={
            "FORERUNNER_LOG_LEVEL": "INFO",  # each replica logs the items its loops handled
            "FORERUNNER_OUTBOX_POLL_SECONDS": "0.2",
            "RANKING_RUN_POLL_SECONDS": "0.2",
            "RANKING_STEPS_POLL_SECONDS": "0.3",
            "RANKING_FEED_POLL_SECONDS": "0.3",
            "OVERSIGHT_BACKGROUND_INTERVAL_SECONDS": "0.3",
            "FORERUNNER_WORKDAY_CALENDAR_FILE": str(next_years_calendar(run)),
        },
    )
    started = time.monotonic()
    try:
        stack.start(binaries)
        ready = stack.wait_ready(START_TIMEOUT)
        if not all(ready.values()):
            pytest.fail(f"not ready: {ready}; logs in {run / 'logs'}")
        yield {"stack": stack, "startup_seconds": time.monotonic() - started}
    finally:
        stack.stop()
