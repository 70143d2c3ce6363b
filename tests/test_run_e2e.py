"""End to end: `make run`'s launcher starts the three services over real HTTP and stops them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.kit.auth import Role
from services.kit.http import ServiceClient, ServiceNotFound
from tests.conftest import token

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PYTHON_LAUNCHER = [sys.executable, "-m", "scripts.run"]
# -o: never reinstall the environment from inside a test run.
MAKE_LAUNCHER = ["make", "--no-print-directory", "-o", ".venv/.installed", "run"]


def launch(database_url: str, command: list[str]) -> tuple[subprocess.Popen[bytes], dict, set]:
    """The launcher on free ports against this worker's database, once all three are ready."""
    ports = {name: free_port() for name in ("registry", "ranking", "oversight")}
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FORERUNNER_LOG_LEVEL": "WARNING",
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    ready: set[str] = set()
    while time.monotonic() < deadline and len(ready) < 3:
        for name, port in ports.items():
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    ready.add(name)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    return proc, ports, ready


def ensure_stopped(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise


@pytest.fixture
def launched(database_url):
    """The launcher started directly; stopped with SIGTERM."""
    proc, ports, ready = launch(database_url, PYTHON_LAUNCHER)
    try:
        yield proc, ports, ready
    finally:
        ensure_stopped(proc)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


async def test_services_start_talk_over_http_and_stop(launched):
    proc, ports, ready = launched
    assert ready == {"registry", "ranking", "oversight"}

    # A service client (as ranking uses to call the registry) over a real socket.
    registry = ServiceClient(
        f"http://127.0.0.1:{ports['registry']}", token(Role.service, sub="service:ranking")
    )
    try:
        categories = (await registry.request("GET", "/v1/categories", params={"limit": 200})).json()
        assert any(c["code"] == "HA-RICE-COOKER" for c in categories["items"])
        with pytest.raises(ServiceNotFound) as missing:
            await registry.request("GET", "/v1/categories/NOPE")
        assert missing.value.code == "not_found"
        echoed = await registry._client.get("/healthz", headers={"X-Request-ID": "e2e-1"})
        assert echoed.headers["x-request-id"] == "e2e-1"
    finally:
        await registry.aclose()

    proc.send_signal(signal.SIGTERM)
    await asyncio.sleep(
        0.2
    )  # the shutdown is now waiting for the services to stop: a second signal
    proc.send_signal(signal.SIGTERM)  # (make forwards the one it got) must not cut it short
    assert proc.wait(timeout=30) == 0
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert "stopped everything make run started" in output
    assert not any(_listening(port) for port in ports.values())


def test_make_run_finishes_its_shutdown_on_sigterm(database_url):
    """Under make the launcher gets SIGTERM twice: its own, and the one make forwards."""
    proc, ports, ready = launch(database_url, MAKE_LAUNCHER)
    try:
        assert ready == {"registry", "ranking", "oversight"}
        os.killpg(proc.pid, signal.SIGTERM)  # what a terminal or a supervisor does
        proc.wait(timeout=30)
        output = proc.stdout.read().decode() if proc.stdout else ""
    finally:
        ensure_stopped(proc)
    assert "stopped everything make run started" in output
    assert "Traceback" not in output
    assert not any(_listening(port) for port in ports.values())
