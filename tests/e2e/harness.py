"""The three services as real processes (uvicorn) on free ports of 127.0.0.1, against a
database of their own, with their background work on and short intervals; started, stopped
(SIGTERM) and killed (SIGKILL) one at a time, as the fault cases need."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from scripts.demo.api import wait_for
from scripts.run import uvicorn_command

ROOT = Path(__file__).resolve().parent.parent.parent
NAMES = ("registry", "ranking", "oversight")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def next_years_calendar(directory: Path) -> Path:
    """The years after the calendar package's last: weekends only, no holidays.

    A walk that moves a clock past a window may cross New Year; the package has no data for
    the next year yet (a regulator adds it with WORKDAY_CALENDAR_FILE when the State Council
    publishes it). This stand-in is for the walks alone, never for production.
    """
    path = directory / "calendar-next-years.json"
    if not path.exists():
        path.write_text(json.dumps({"2027": {}, "2028": {}}), encoding="utf-8")
    return path


class Services:
    """The three services of one walk; ``url(name)``, ``start``, ``stop``, ``kill``."""

    def __init__(self, database_url: str, logs: Path) -> None:
        self.database_url = database_url
        self.ports = {name: free_port() for name in NAMES}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = logs

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def _env(self, name: str, extra: Mapping[str, str]) -> dict[str, str]:
        prefix = name.upper()
        env = {
            **os.environ,
            "FORERUNNER_DATABASE_URL": self.database_url,
            "FORERUNNER_ENVIRONMENT": "test",
            "FORERUNNER_LOG_LEVEL": "WARNING",
            "FORERUNNER_OUTBOX_POLL_SECONDS": "0.2",
            "RANKING_RUN_POLL_SECONDS": "0.2",
            "OVERSIGHT_BACKGROUND_INTERVAL_SECONDS": "0.3",
            "OVERSIGHT_DEV_SIGNING_KEY_FILE": str(self.logs / "oversight-signing-key.pem"),
            "FORERUNNER_WORKDAY_CALENDAR_FILE": str(next_years_calendar(self.logs)),
            **{f"{prefix}_{peer.upper()}_URL": self.url(peer) for peer in NAMES if peer != name},
        }
        env.update(extra)
        return env

    def start(self, name: str, **extra: str) -> None:
        """Start one service (environment overrides by full variable name) and wait for it."""
        self._spawn(name, extra)
        self._wait_ready(name)

    def restart(self, *names: str, **extra: str) -> None:
        """Stop these services, then start them all at once and wait for each."""
        for name in names:
            self.stop(name)
        for name in names:
            self._spawn(name, extra)
        for name in names:
            self._wait_ready(name)

    def _spawn(self, name: str, extra: Mapping[str, str]) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            uvicorn_command(name, self.ports[name]),
            cwd=ROOT,
            env=self._env(name, extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(self, name: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.logs / (name + '.log')}")
            try:
                if httpx.get(self.url(name) + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready")

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self, name: str) -> None:
        self.stop(name, signal.SIGKILL)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


__all__ = ["wait_for"]
