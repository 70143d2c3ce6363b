"""``make stack``: the production shape without containers (deploy/ with local processes).

It starts, as child processes of this one and all on 127.0.0.1:

- PgBouncer in transaction mode in front of PostgreSQL (``DATABASE_URL``, else the embedded
  server under ``.data/pg``), one pool per service with the service's session settings;
- two uvicorn replicas of each service, talking to PgBouncer (``DB_PGBOUNCER``), calling each
  other through the gateway, with all background work on in both;
- nginx as the gateway, from the same template as deploy/gateway/nginx.conf.

nginx and PgBouncer come from Debian's packages, installed when missing. Their configs, logs
and pid files live in a run directory (``STACK_RUN_DIR``, else a temporary one), never /etc.
Ctrl-C or SIGTERM stops everything it started, by pid. ``STACK_INFO`` names a JSON file to
write once everything is ready (ports, pids, log files: for tests).

Outside production a stack's replicas may run ahead of the real time, as a walk through the
publicity windows and deadlines needs: ``FORERUNNER_CLOCK_OFFSET_DAYS`` for the whole stack, or
``Stack.restart(service, FORERUNNER_CLOCK_OFFSET_DAYS=...)``, which restarts that service's
replicas with it. Production refuses both.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy.engine import make_url

from scripts.gateway import SERVICES, Gateway, render
from scripts.run import uvicorn_command

ROOT = Path(__file__).resolve().parent.parent
REPLICAS = 2
PACKAGES = {"nginx": "nginx-light", "pgbouncer": "pgbouncer"}
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
RESTART_TIMEOUT = 60


class StackUnavailable(RuntimeError):
    """nginx or PgBouncer is missing and cannot be installed here."""


class _Shutdown(BaseException):
    """Raised by the first SIGTERM or SIGINT: leave the main loop and stop everything."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))


def ensure_installed() -> dict[str, str]:
    """Paths of nginx and pgbouncer, installing Debian's packages for the missing ones."""
    missing = [PACKAGES[n] for n in PACKAGES if _which(n) is None]
    if missing:
        apt = shutil.which("apt-get")
        if apt is None or os.geteuid() != 0:
            raise StackUnavailable(
                f"{' and '.join(missing)} missing, and apt-get is unavailable or not root"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [apt, "install", "-y", "--no-install-recommends", *missing]
        print(f"installing {' '.join(missing)} ...", flush=True)
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode:  # noqa: S603
            subprocess.run([apt, "update"], env=env, capture_output=True, check=False)  # noqa: S603
            done = subprocess.run(install, env=env, capture_output=True, check=False)  # noqa: S603
            if done.returncode:
                tail = done.stderr.decode(errors="replace")[-500:]
                raise StackUnavailable(f"apt-get install {' '.join(missing)} failed: {tail}")
    found = {n: _which(n) for n in PACKAGES}
    if None in found.values():
        raise StackUnavailable(f"not found after install: {found}")
    return {n: str(p) for n, p in found.items()}


def _wait_ready(url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 - our own 127.0.0.1
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _wait_port(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def pgbouncer_config(run: Path, database_url: str, port: int) -> str:
    """Transaction pooling, one pool per service carrying that service's session settings.

    ``connect_query`` sets them once per server connection; ``DEALLOCATE ALL`` after every
    transaction drops the uniquely named statements the ORM prepared (see kit.db.Database).
    """
    from services.kit.db import session_settings
    from services.kit.settings import ServiceSettings

    url = make_url(database_url)
    host = url.query.get("host") or url.host or "127.0.0.1"
    target = f"host={host} port={url.port or 5432} dbname={url.database} user={url.username}"
    if url.password:
        target += f" password={url.password}"
    settings = "; ".join(f"SET {k} = {v}" for k, v in session_settings(ServiceSettings()).items())
    databases = "\n".join(f"forerunner_{s} = {target} connect_query='{settings}'" for s in SERVICES)
    user = url.username or "postgres"
    (run / "pgbouncer" / "userlist.txt").write_text(f'"{user}" ""\n')
    return f"""[databases]
{databases}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {run}/pgbouncer/userlist.txt
pool_mode = transaction
server_reset_query = DEALLOCATE ALL
server_reset_query_always = 1
max_client_conn = 1000
default_pool_size = 20
"""


def gateway_config(run: Path, port: int, servers: dict[str, list[int]]) -> str:
    return render(
        Gateway(
            listen=f"127.0.0.1:{port}",
            # No passive health marks: a replica refusing a connection (starting later than the
            # peer calling it, or restarted by Stack.restart) sends the request on to the other
            # one, instead of leaving the server out for 10 s in each nginx worker that saw it.
            servers={
                s: [f"127.0.0.1:{p} max_fails=0" for p in ports] for s, ports in servers.items()
            },
            workers="2",
            # Every local caller shares 127.0.0.1: a per-address limit meant for the public
            # would throttle the demo and the tests.
            rate="2000r/s",
            burst=2000,
            main=(f"pid {run}/nginx/nginx.pid;", f"error_log {run}/nginx/error.log warn;"),
            http=(
                f"access_log {run}/nginx/access.log;",
                *(
                    f"{kind}_temp_path {run}/nginx/{kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
                ),
            ),
        )
    )


@dataclass
class Stack:
    run: Path
    database_url: str
    gateway_port: int = field(default_factory=lambda: int(os.environ.get("GATEWAY_PORT", 8080)))
    # Settings every replica gets on top of this process's environment (tests: short intervals).
    settings: dict[str, str] = field(default_factory=dict)
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    replicas: dict[str, list[int]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)

    def spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        log = self.run / "logs" / f"{name}.log"
        self.logs[name] = str(log)
        with log.open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.children.append((name, proc))

    def start(self, binaries: dict[str, str]) -> None:
        for sub in ("logs", "pgbouncer", "nginx"):
            (self.run / sub).mkdir(parents=True, exist_ok=True)
        bouncer = free_port()
        (self.run / "pgbouncer" / "pgbouncer.ini").write_text(
            pgbouncer_config(self.run, self.database_url, bouncer)
        )
        command = [binaries["pgbouncer"], str(self.run / "pgbouncer" / "pgbouncer.ini")]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: drop to the database's system user.
            # It reads its files before it drops; it logs to stderr, which we keep.
            command += ["-u", "postgres" if _user_exists("postgres") else "nobody"]
        self.spawn("pgbouncer", command)
        if not _wait_port(bouncer, time.monotonic() + 15):
            raise RuntimeError(f"PgBouncer did not listen; see {self.logs['pgbouncer']}")

        gateway = f"http://127.0.0.1:{self.gateway_port}"
        user = make_url(self.database_url).username or "postgres"
        env = {
            **os.environ,
            "FORERUNNER_DB_PGBOUNCER": "true",
            "FORERUNNER_BACKGROUND_ENABLED": "true",
            "FORERUNNER_OUTBOX_RELAY_ENABLED": "true",
            **{f"FORERUNNER_{s.upper()}_URL": gateway for s in SERVICES},
            **{
                f"{s.upper()}_DATABASE_URL": (
                    f"postgresql+asyncpg://{user}@127.0.0.1:{bouncer}/forerunner_{s}"
                )
                for s in SERVICES
            },
            # LISTEN cannot pass a transaction pooler: the read caches hear of changes
            # straight from PostgreSQL (kit.fresh).
            "FORERUNNER_DB_LISTEN_URL": self.database_url,
        }
        env.pop("DATABASE_URL", None)
        # One signing key for both oversight replicas: each would otherwise make its own.
        env["OVERSIGHT_NOTICE_SIGNING_KEY_FILE"] = str(_signing_key(self.run))
        # The gateway appends the caller's address to X-Forwarded-For (anonymous filing limits).
        env["OVERSIGHT_TRUSTED_PROXY_HOPS"] = "1"
        self.env = env | self.settings
        for service in SERVICES:
            refuse_clock_in_production(service, self.env)
        for service in SERVICES:
            self.replicas[service] = [free_port() for _ in range(REPLICAS)]
            for n, port in enumerate(self.replicas[service], start=1):
                self.spawn(f"{service}-{n}", uvicorn_command(service, port), self.env)

        conf = self.run / "nginx" / "nginx.conf"
        conf.write_text(gateway_config(self.run, self.gateway_port, self.replicas))
        nginx = [binaries["nginx"], "-p", str(self.run / "nginx"), "-c", str(conf)]
        nginx += ["-e", str(self.run / "nginx" / "error.log")]
        checked = subprocess.run([*nginx, "-t"], capture_output=True, check=False)  # noqa: S603
        if checked.returncode:
            raise RuntimeError(f"nginx -t failed: {checked.stderr.decode(errors='replace')}")
        self.spawn("nginx", [*nginx, "-g", "daemon off;"])

    def wait_ready(self, timeout: float = 90) -> dict[str, bool]:
        deadline = time.monotonic() + timeout
        ready = {
            f"{s}-{n}": _wait_ready(f"http://127.0.0.1:{p}/readyz", deadline)
            for s, ports in self.replicas.items()
            for n, p in enumerate(ports, start=1)
        }
        for service in SERVICES:
            url = f"http://127.0.0.1:{self.gateway_port}/readyz/{service}"
            ready[f"gateway:{service}"] = _wait_ready(url, deadline)
        return ready

    def info(self) -> dict[str, Any]:
        return {
            "gateway": f"http://127.0.0.1:{self.gateway_port}",
            "replicas": self.replicas,
            "pids": {name: proc.pid for name, proc in self.children},
            "logs": self.logs,
            "run_dir": str(self.run),
        }

    def restart(self, service: str, /, **settings: str) -> None:
        """Restart all of the service's replicas on their ports with these settings (kept for
        later restarts). Together, not one by one: after a clock moves, no replica runs behind
        the others, and all of them race for the work that just fell due."""
        env = self.env | self.overrides.get(service, {}) | settings
        refuse_clock_in_production(service, env)
        self.overrides[service] = self.overrides.get(service, {}) | settings
        names = [f"{service}-{n}" for n in range(1, len(self.replicas[service]) + 1)]
        at = {name: i for i, (name, _) in enumerate(self.children) if name in names}
        for name in names:
            _end(self.children[at[name]][1])
        for name, port in zip(names, self.replicas[service], strict=True):
            self.spawn(name, uvicorn_command(service, port), env)
            self.children[at[name]] = self.children.pop()  # keep the order stop() relies on
        deadline = time.monotonic() + RESTART_TIMEOUT
        for name, port in zip(names, self.replicas[service], strict=True):
            if not _wait_ready(f"http://127.0.0.1:{port}/readyz", deadline):
                raise RuntimeError(f"{name} did not come back; see {self.logs[name]}")

    def exited(self) -> list[str]:
        return [name for name, proc in self.children if proc.poll() is not None]

    def stop(self) -> None:
        # The gateway first (no new requests), then the services, the pooler last.
        for _, proc in reversed(self.children):
            _end(proc)


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def refuse_clock_in_production(service: str, env: dict[str, str]) -> None:
    """Production keeps the real time (the services refuse too; this says so before any
    replica is stopped for it)."""
    prefixes = (f"{service.upper()}_", "FORERUNNER_")

    def setting(name: str) -> str:
        return next((env[p + name] for p in prefixes if p + name in env), "")

    offset = setting("CLOCK_OFFSET_DAYS").strip()
    if setting("ENVIRONMENT").strip().lower() == "production" and offset and float(offset):
        raise ValueError(f"{service}: production keeps the real time, no clock offset")


def _signing_key(run: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = run / "oversight-signing-key.pem"
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
    return path


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def main() -> int:
    from services.kit.migrations import upgrade

    try:
        binaries = ensure_installed()
    except StackUnavailable as err:
        print(f"cannot start the stack: {err}", file=sys.stderr)
        return 3
    embedded: Any = None
    url = os.environ.get("DATABASE_URL") or os.environ.get("FORERUNNER_DATABASE_URL")
    if not url:
        from services.kit import embedded as emb

        print("no DATABASE_URL: starting the embedded PostgreSQL in .data/pg ...", flush=True)
        embedded, url = emb.start(ROOT / ".data" / "pg")
    own_run = "STACK_RUN_DIR" not in os.environ
    run = Path(os.environ.get("STACK_RUN_DIR") or tempfile.mkdtemp(prefix="forerunner-stack-"))
    run.mkdir(parents=True, exist_ok=True)
    stack = Stack(run=run, database_url=url)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # The first SIGTERM or SIGINT ends the main loop; the rest are ignored while stopping.
        for each in (signal.SIGTERM, signal.SIGINT):
            signal.signal(each, signal.SIG_IGN)
        raise _Shutdown

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    try:
        for service in SERVICES:
            # Straight to PostgreSQL, as deploy's migration job: never through the pooler.
            upgrade(service, url)
        stack.start(binaries)
        ready = stack.wait_ready()
        info = stack.info() | {"ready": ready, "seconds": round(time.monotonic() - started, 2)}
        if info_file := os.environ.get("STACK_INFO"):
            Path(info_file).write_text(json.dumps(info, indent=2))
        print(f"gateway   {info['gateway']}  (routes by path prefix; /readyz/<service>)")
        for service, ports in stack.replicas.items():
            states = ", ".join(
                f"{p} {'ready' if ready[f'{service}-{n}'] else 'NOT READY'}"
                for n, p in enumerate(ports, start=1)
            )
            print(f"  {service:<10} replicas on 127.0.0.1: {states}")
        print(f"configs and logs in {run}\nCtrl-C stops everything.", flush=True)
        if not all(ready.values()):
            print("not everything became ready; stopping", file=sys.stderr)
            return 1
        while not (gone := stack.exited()):
            time.sleep(0.5)
        print(f"{', '.join(gone)} exited; stopping the rest", file=sys.stderr)
        return 1
    except _Shutdown:
        return 0
    except ValueError as err:
        print(f"cannot start the stack: {err}", file=sys.stderr)
        return 2
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        stack.stop()
        if embedded is not None:
            embedded.cleanup()
        if own_run and os.environ.get("STACK_KEEP_RUN_DIR") != "1":
            shutil.rmtree(run, ignore_errors=True)
        print("stopped everything make stack started", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
