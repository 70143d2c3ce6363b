"""The public read path against a bare FastAPI + asyncpg endpoint, over real HTTP.

Run: ``python -m bench.read`` (20,000 disclosures, 10 s per run, best of 2) or
``--n 5000 --seconds 5 --repeats 1`` for a quick look.

In a scratch database (dropped at the end), N disclosures are synced through the registry
app. Then three servers start as processes under the same uvicorn settings, all pinned to core
0: the real registry (``services.registry.app``) as configured by default, which keeps its
public reads in memory until their tables change (``kit.fresh``); the same with nothing kept
(``READ_CACHE_BYTES=0``), every read from the database; and the baseline
(``bench._bare_read``: the same SQL through an asyncpg pool, no auth, middleware, ORM, checks
or cache). wrk (Debian's package,
installed when missing) runs pinned to core 1, 64 connections, over four reads: one standard by
id (random ids), a two-character Chinese search, a category listing and one category. Each
figure is the best of the repeats, the servers alternating. Printed: requests per second and
p50/p99 latency of each registry against the baseline, the ratios (target: throughput >=
0.8x, p99 <= 1.5x), and the share of the kept reads answered from memory.
Any non-2xx answer fails the bench: a fast error is no read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg  # type: ignore[import-untyped]
import httpx

from bench._common import connect_kwargs
from bench._common import scratch_database as scratch
from bench.ingest import ndjson_batches, push_all

ROOT = Path(__file__).resolve().parent.parent
LUA = """
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
math.randomseed(os.time())
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
"""


@dataclass
class Figure:
    rps: float
    p50_ms: float
    p99_ms: float


def kept_counts(base: str) -> tuple[float, float]:
    """The server's kept-read hits and misses so far (kit.fresh), from its /metrics."""
    text = httpx.get(base + "/metrics", timeout=10).text
    found = dict(re.findall(r'read_cache_lookups_total\{outcome="(\w+)"[^}]*\} (\S+)', text))
    return float(found.get("hit", 0)), float(found.get("miss", 0))


def compare(
    wrk: str, servers: dict[str, str], paths_file: str, args: argparse.Namespace
) -> tuple[dict[str, Figure], dict[str, float]]:
    """The best of ``args.repeats`` wrk runs on each server, the servers alternating, and
    the share of each server's kept reads that came from memory over those runs."""
    best: dict[str, Figure] = {}
    before = {label: kept_counts(base) for label, base in servers.items()}
    for _ in range(args.repeats):
        for label, base in servers.items():
            fig = run_wrk(wrk, base, paths_file, args.seconds, args.connections)
            if label not in best or fig.rps > best[label].rps:
                best[label] = fig
    shares = {label: share_since(base, before[label]) for label, base in servers.items()}
    return best, shares


def share_since(base: str, before: tuple[float, float]) -> float:
    """The share of the server's kept reads since ``before`` (``kept_counts``) that came
    from memory."""
    hits, misses = (a - b for a, b in zip(kept_counts(base), before, strict=True))
    return hits / (hits + misses) if hits + misses else 0.0


def print_against_bare(
    name: str, width: int, best: dict[str, Figure], shares: dict[str, float]
) -> None:
    """One line per configuration of the real service ("kept", "database"...) against
    "bare"."""
    b = best["bare"]
    for label, r in best.items():
        if label == "bare":
            continue
        print(
            f"{name:{width}} {label:9} {r.rps:6.0f} {b.rps:6.0f} {r.rps / b.rps:6.2f} "
            f"{r.p50_ms:6.1f}/{b.p50_ms:<6.1f} {r.p99_ms:6.1f}/{b.p99_ms:<6.1f} "
            f"{r.p99_ms / b.p99_ms:9.2f} {shares[label]:10.0%}",
            flush=True,
        )


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing Debian's package", flush=True)
    apt = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(apt, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=True)
        subprocess.run(apt, capture_output=True, check=True)
    return shutil.which("wrk") or "wrk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(target: str, env: dict[str, str], core: int) -> Iterator[str]:
    """A uvicorn process on a free port of 127.0.0.1, pinned to one core; stopped on exit."""
    port = free_port()
    cmd = [
        "taskset", "-c", str(core), sys.executable, "-m", "uvicorn", target, "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/openapi.json", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{target} did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ms(text: str) -> float:
    """wrk's latency figure in ms; NaN when it has none (no request completed)."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        return float("nan")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(wrk: str, base: str, paths_file: str, seconds: int, connections: int) -> Figure:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    cmd = [
        "taskset", "-c", "1", wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
        "--timeout", "10s", "-s", script.name, base,
    ]  # fmt: skip
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, env={**os.environ, "WRK_PATHS": paths_file}
    ).stdout
    os.unlink(script.name)
    if "Non-2xx" in out or ("Socket errors" in out and "timeout 0" not in out):
        raise RuntimeError(f"errors under load:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    return Figure(rps, p50, p99)


async def sample_paths(url: str) -> dict[str, list[str]]:
    conn = await asyncpg.connect(**connect_kwargs(url))
    try:
        ids = [str(r[0]) for r in await conn.fetch("SELECT id FROM registry.standards")]
        categories = [
            r[0]
            for r in await conn.fetch(
                "SELECT DISTINCT category_code FROM registry.standards ORDER BY 1"
            )
        ]
    finally:
        await conn.close()
    rng = random.Random(7)
    return {
        "GET /v1/standards/{id}": [
            f"/v1/standards/{i}" for i in rng.sample(ids, min(5000, len(ids)))
        ],
        "search q=电饭 (2 chars)": [f"/v1/standards?q={quote('电饭')}"],
        "list ?category=": [f"/v1/standards?category={c}" for c in categories],
        "GET /v1/categories/{code}": [f"/v1/categories/{c}" for c in categories],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="disclosures to sync first")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per server; best is kept")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", help="measure only the endpoints whose name contains this")
    args = parser.parse_args(argv)
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench.read needs two cores: one for the servers, one for wrk")
    wrk = ensure_wrk()
    with scratch("bench_read") as url:
        took, totals = asyncio.run(push_all(url, ndjson_batches(args.n, 5_000)))
        print(f"synced {args.n} disclosures through the app in {took:.1f} s: {totals}")
        groups = asyncio.run(sample_paths(url))
        env = {
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_LOG_LEVEL": "WARNING",
            "REGISTRY_OUTBOX_RELAY_ENABLED": "false",
            "BARE_DATABASE_URL": url,
        }
        print(
            f"{'endpoint':28} {'registry':9} {'req/s':>6} {'bare':>6} {'ratio':>6} "
            f"{'p50 ms':>13} {'p99 ms':>13} {'p99 ratio':>9} {'from memory':>11}"
        )
        with (
            server("services.registry.app:create_app", env, 0) as real,
            server(
                "services.registry.app:create_app", env | {"REGISTRY_READ_CACHE_BYTES": "0"}, 0
            ) as uncached,
            server("bench._bare_read:create_app", env, 0) as bare,
            tempfile.TemporaryDirectory() as tmp,
        ):
            servers = {"bare": bare, "kept": real, "database": uncached}
            for name, paths in groups.items():
                if args.only and args.only not in name:
                    continue
                paths_file = str(Path(tmp) / "paths.txt")
                Path(paths_file).write_text("\n".join(paths) + "\n", encoding="utf-8")
                print_against_bare(name, 28, *compare(wrk, servers, paths_file, args))


if __name__ == "__main__":
    main()
