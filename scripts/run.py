"""``make run``: start the three services locally, on an embedded PostgreSQL if need be.

With ``DATABASE_URL`` (or ``FORERUNNER_DATABASE_URL``) set it uses that server; otherwise it
starts the embedded pgserver kept under ``.data/pg``. It migrates all three services, starts
them on 8001/8002/8003, and on Ctrl-C or SIGTERM stops everything it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORTS = {"registry": 8001, "ranking": 8002, "oversight": 8003}


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


def main() -> int:
    from services.kit.migrations import upgrade

    embedded: Any = None
    url = os.environ.get("DATABASE_URL") or os.environ.get("FORERUNNER_DATABASE_URL")
    if not url:
        from services.kit import embedded as emb

        print("no DATABASE_URL: starting the embedded PostgreSQL in .data/pg ...", flush=True)
        embedded, url = emb.start(ROOT / ".data" / "pg")
    services = ports()
    children: list[subprocess.Popen[bytes]] = []

    def stop() -> None:
        # Once shutdown has begun, a second signal (make forwards the one it got, an impatient
        # Ctrl-C) must not cut it short: it would skip stopping PostgreSQL and the last line.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if embedded is not None:
            # Stopped explicitly: an embedded postgres would outlive us otherwise.
            embedded.cleanup()
        print("stopped everything make run started", flush=True)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # The first SIGTERM or SIGINT ends the main loop; stop() then ignores the rest.
        for each in (signal.SIGTERM, signal.SIGINT):
            signal.signal(each, signal.SIG_IGN)
        raise _Shutdown

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        for service in services:
            upgrade(service, url)
        env = {**os.environ, "FORERUNNER_DATABASE_URL": url}
        for service, port in services.items():
            env[f"FORERUNNER_{service.upper()}_URL"] = f"http://127.0.0.1:{port}"
        for service, port in services.items():
            children.append(
                subprocess.Popen(  # noqa: S603
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        f"services.{service}.app:create_app",
                        "--factory",
                        "--host",
                        os.environ.get("HOST", "127.0.0.1"),
                        "--port",
                        str(port),
                        "--no-access-log",
                    ],
                    env=env,
                    cwd=ROOT,
                )
            )
        deadline = time.monotonic() + 60
        ready = {s: _wait_ready(p, deadline) for s, p in services.items()}
        for service, port in services.items():
            state = "ready" if ready[service] else "NOT READY"
            print(f"  {service:<10} http://127.0.0.1:{port}  (docs: /docs)  {state}", flush=True)
        print(
            "get a token: .venv/bin/python -m services.kit.auth mint --role regulator\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        print("a service exited; stopping the others", file=sys.stderr)
        return 1
    except _Shutdown:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    raise SystemExit(main())
