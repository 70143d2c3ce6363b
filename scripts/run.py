"""``make run``: start the three services locally, on an embedded PostgreSQL if need be.

With ``DATABASE_URL`` (or ``FORERUNNER_DATABASE_URL``) set it uses that server; otherwise it
starts the embedded pgserver kept under ``.data/pg``. It migrates all three services, starts
them on 8001/8002/8003, and on Ctrl-C or SIGTERM stops everything it started.
``make demo`` (``scripts/demo``) is the same launcher with a seeding step after the start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORTS = {"registry": 8001, "ranking": 8002, "oversight": 8003}


def uvicorn_command(service: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """One service as a uvicorn process: ``make run``, ``make demo``, the stack, the e2e."""
    return [
        sys.executable, "-m", "uvicorn", f"services.{service}.app:create_app", "--factory",
        "--host", host, "--port", str(port), "--no-access-log",
    ]  # fmt: skip


def ports() -> dict[str, int]:
    """Ports from ``REGISTRY_PORT`` etc., else 8001/8002/8003."""
    return {s: int(os.environ.get(f"{s.upper()}_PORT", p)) for s, p in DEFAULT_PORTS.items()}


class _Shutdown(BaseException):
    """Raised by the first SIGTERM or SIGINT: leave the main loop and stop everything."""


def _wait_ready(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


class Launcher:
    """The three services as children of this process, on one database; each can be
    restarted with other settings (``make demo`` moves clocks that way)."""

    def __init__(self, database_url: str, services: dict[str, int], **env: str) -> None:
        self.services = services
        self.env = {**os.environ, "FORERUNNER_DATABASE_URL": database_url, **env}
        for service, port in services.items():
            self.env[f"FORERUNNER_{service.upper()}_URL"] = f"http://127.0.0.1:{port}"
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.services[service]}"

    def start(self, names: Iterable[str], quiet: bool = False, **env: str) -> dict[str, bool]:
        """Start these services (extra environment by full name); which became ready.
        ``quiet``: without uvicorn's own start and stop lines."""
        names = list(names)
        for service in names:
            self.children[service] = subprocess.Popen(  # noqa: S603
                [
                    *uvicorn_command(
                        service, self.services[service], os.environ.get("HOST", "127.0.0.1")
                    ),
                    *(["--log-level", "warning"] if quiet else []),
                ],
                env={**self.env, **env},
                cwd=ROOT,
            )
        deadline = time.monotonic() + 60
        return {s: _wait_ready(self.services[s], deadline) for s in names}

    def stop(self, names: Iterable[str]) -> None:
        stopping = [self.children.pop(s) for s in names if s in self.children]
        for child in stopping:
            if child.poll() is None:
                child.terminate()
        for child in stopping:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def restart(self, names: Iterable[str], quiet: bool = False, **env: str) -> None:
        names = list(names)
        self.stop(names)
        ready = self.start(names, quiet, **env)
        if not all(ready.values()):
            raise RuntimeError(f"not ready after a restart: {ready}")

    def all_alive(self) -> bool:
        return all(c.poll() is None for c in self.children.values())


def serve(
    command: str,
    then: Callable[[Launcher], None] | None = None,
    quiet: bool = False,
    **env: str,
) -> int:
    """Start the database if need be, migrate, start the three services, run ``then`` (if
    any), and wait for Ctrl-C or SIGTERM; stop everything started on the way out.
    ``quiet``: without uvicorn's own start and stop lines."""
    from services.kit.migrations import upgrade

    embedded: Any = None
    launcher: Launcher | None = None

    def stop() -> None:
        # Once shutdown has begun, a second signal (make forwards the one it got, an impatient
        # Ctrl-C) must not cut it short: it would skip stopping PostgreSQL and the last line.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        if launcher is not None:
            launcher.stop(list(launcher.children))
        if embedded is not None:
            # Stopped explicitly: an embedded postgres would outlive us otherwise.
            embedded.cleanup()
        print(f"stopped everything {command} started", flush=True)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # The first SIGTERM or SIGINT ends the main loop; stop() then ignores the rest.
        for each in (signal.SIGTERM, signal.SIGINT):
            signal.signal(each, signal.SIG_IGN)
        raise _Shutdown

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        url = os.environ.get("DATABASE_URL") or os.environ.get("FORERUNNER_DATABASE_URL")
        if not url:
            from services.kit import embedded as emb

            print("no DATABASE_URL: starting the embedded PostgreSQL in .data/pg ...", flush=True)
            embedded, url = emb.start(ROOT / ".data" / "pg")
        services = ports()
        for service in services:
            upgrade(service, url)
        launcher = Launcher(url, services, **env)
        ready = launcher.start(services, quiet)
        for service, port in services.items():
            state = "ready" if ready[service] else "NOT READY"
            print(f"  {service:<10} http://127.0.0.1:{port}  (docs: /docs)  {state}", flush=True)
        if then is not None:
            if not all(ready.values()):
                print("not every service is ready: nothing more done", file=sys.stderr)
                return 1
            then(launcher)
        print(
            "get a token: .venv/bin/python -m services.kit.auth mint --role regulator\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        while launcher.all_alive():
            time.sleep(0.5)
        print("a service exited; stopping the others", file=sys.stderr)
        return 1
    except _Shutdown:
        return 0
    finally:
        stop()


def main() -> int:
    return serve("make run")


if __name__ == "__main__":
    raise SystemExit(main())
