""" "Is this a current forerunner" against a bare FastAPI + asyncpg endpoint reading the same row.

Run: ``python -m bench.lookup`` (100,000 titles, 10 s per run, best of 2) or
``--n 20000 --seconds 5 --repeats 1`` for a quick look.

In a scratch database (dropped at the end), migrated for ranking, N titles are written in one
statement (one key area, body, plan, run and shortlist behind them; each title its own
enterprise, standard number and barcode). Then three servers start as processes under the
same uvicorn settings, pinned to core 0 (``bench.read``'s machinery): the real ranking service
as configured by default, which keeps lookups in memory until a title changes
(``kit.fresh``); the same with nothing kept (``READ_CACHE_BYTES=0``); and the baseline below
(the same row through an asyncpg pool; no auth, middleware, normalisation, ETag, checks or
cache). wrk runs pinned to core 1, 64 connections, over random lookups by ``uscc``,
by ``standard_no`` and by ``barcode``, and then the same by ``uscc`` with a matching
``If-None-Match`` (304) on both real services. The kept service is also run just after a
title changed ("emptied": every lookup it kept is forgotten, and the ones asked again come
from the database in a burst, read again before routing and together by ``kit.batches``).
Printed: requests per
second and p50/p99 of each, the ratios (target: throughput >= 0.8x, p99 <= 20 ms; the 304
path faster still), and the share of lookups answered from memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg  # type: ignore[import-untyped]
import httpx
from fastapi import FastAPI, Request

from bench._common import connect_kwargs
from bench._common import scratch_database as scratch
from bench.read import (
    Figure,
    _ms,
    compare,
    ensure_wrk,
    kept_counts,
    print_against_bare,
    run_wrk,
    server,
    share_since,
)
from services.kit.migrations import upgrade

SEED = """
WITH area AS (
  INSERT INTO ranking.key_areas (id, year, level, name, categories)
  VALUES (gen_random_uuid(), 2026, 'municipal', '家用电器', ARRAY['HA-RICE-COOKER']) RETURNING id
), body AS (
  INSERT INTO ranking.evaluators (id, name, uscc, contact, requested_key_areas, status)
  VALUES (gen_random_uuid(), '评估机构', '12120000MB0000000X', '{}', '{}', 'approved') RETURNING id
), plan AS (
  INSERT INTO ranking.plans (id, evaluator_id, key_area_id)
  SELECT gen_random_uuid(), body.id, area.id FROM body, area RETURNING id, evaluator_id, key_area_id
), run AS (
  INSERT INTO ranking.runs (id, plan_id, plan_version, evaluator_id, state, requested_by)
  SELECT gen_random_uuid(), id, 1, evaluator_id, 'succeeded', 'bench' FROM plan
  RETURNING id, plan_id, evaluator_id
)
INSERT INTO ranking.shortlists (id, run_id, plan_id, plan_version, evaluator_id, key_area_id,
                                state, deadline, created_by)
SELECT gen_random_uuid(), run.id, run.plan_id, 1, run.evaluator_id, plan.key_area_id,
       'decided', DATE '2026-03-09', 'bench'
FROM run, plan RETURNING id
"""

ENTRIES = """
INSERT INTO ranking.shortlist_entries (id, shortlist_id, standard_id, standard_version,
  standard_no, standard_no_key, uscc, enterprise_name, category, region, barcodes, thresholds,
  state, deadline)
SELECT gen_random_uuid(), $1, gen_random_uuid(), 1,
       'Q/12TJ ' || lpad(i::text, 6, '0') || '-2024', 'Q/12TJ' || lpad(i::text, 6, '0') || '-2024',
       '91120116MA' || lpad(i::text, 8, '0'), '天津市电器有限公司 ' || i, 'HA-RICE-COOKER',
       '120116', ARRAY['690' || lpad(i::text, 10, '0')], '{}', 'titled', DATE '2026-03-09'
FROM generate_series(1, $2) AS i
"""

TITLES = """
INSERT INTO ranking.titles (id, entry_id, shortlist_id, run_id, plan_id, plan_version,
  evaluator_id, key_area_id, year, level, category, region, uscc, enterprise_name, standard_id,
  standard_no, standard_no_key, standard_version, barcodes, thresholds, status, status_reason,
  valid_from, valid_until, granted_at)
SELECT gen_random_uuid(), e.id, s.id, s.run_id, s.plan_id, 1, s.evaluator_id, s.key_area_id,
       2026, 'municipal', e.category, e.region, e.uscc, e.enterprise_name, e.standard_id,
       e.standard_no, e.standard_no_key, 1, e.barcodes, '{}', 'active', 'granted after publicity',
       DATE '2026-06-01', DATE '2027-05-31', now()
FROM ranking.shortlist_entries e JOIN ranking.shortlists s ON s.id = e.shortlist_id
"""

BARE_COLUMNS = (
    "t.id, t.uscc, t.enterprise_name, t.standard_id, t.standard_no, t.standard_version, "
    "t.barcodes, t.plan_id, t.key_area_id, t.year, t.level, t.category, t.region, t.status, "
    "t.status_reason, t.pending_review, t.valid_from, t.valid_until"
)


def create_bare() -> FastAPI:
    """The baseline: the same row by the same indexed column, serialised by FastAPI."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kwargs = connect_kwargs(os.environ["BARE_DATABASE_URL"])
        app.state.pool = await asyncpg.create_pool(**kwargs, min_size=10, max_size=10)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/v1/forerunners")
    async def lookup(
        request: Request,
        uscc: str | None = None,
        standard_no: str | None = None,
        barcode: str | None = None,
    ) -> dict[str, Any]:
        if uscc is not None:
            where, value = "t.uscc = $1", uscc
        elif standard_no is not None:
            where, value = "t.standard_no_key = $1", standard_no.replace(" ", "")
        else:
            where, value = "t.barcodes @> ARRAY[$1]::varchar[]", barcode or ""
        rows = await request.app.state.pool.fetch(
            # The same plan as the service's lookup: the key's index, then a sort of the few.
            f"SELECT {BARE_COLUMNS} FROM (SELECT * FROM ranking.titles t "  # noqa: S608
            f"WHERE {where} AND t.status = 'active' OFFSET 0) t ORDER BY t.id LIMIT 21",
            value,
        )
        return {"items": [dict(r) for r in rows[:20]], "next_cursor": None}

    return app


async def seed(url: str, n: int) -> None:
    conn = await asyncpg.connect(**connect_kwargs(url))
    try:
        shortlist_id = await conn.fetchval(SEED)
        await conn.execute(ENTRIES, shortlist_id, n)
        await conn.execute(TITLES)
        await conn.execute("ANALYZE ranking.titles")
    finally:
        await conn.close()


def paths(n: int) -> dict[str, list[str]]:
    rng = random.Random(7)
    picks = [rng.randint(1, n) for _ in range(5000)]
    return {
        "by uscc": [f"/v1/forerunners?uscc=91120116MA{i:08d}" for i in picks],
        "by standard_no": [
            f"/v1/forerunners?standard_no={quote(f'Q/12TJ {i:06d}-2024')}" for i in picks
        ],
        "by barcode": [f"/v1/forerunners?barcode=690{i:010d}" for i in picks],
    }


# A change to one title, as a revocation makes: every process forgets what it kept.
TOUCH = """UPDATE ranking.titles SET status_reason = status_reason
WHERE id = (SELECT id FROM ranking.titles LIMIT 1)"""


def changes(base: str) -> float:
    text = httpx.get(base + "/metrics", timeout=10).text
    found = re.search(r"^read_cache_changes_total\{[^}]*\} (\S+)", text, re.M)
    return float(found.group(1)) if found else 0.0


def emptied(
    url: str, wrk: str, base: str, paths_file: str, args: argparse.Namespace
) -> tuple[Figure, float]:
    """The kept server just after a title changed, best of ``args.repeats``: the burst of
    lookups the cache no longer has (kit.batches). And the share from memory then."""

    async def touch() -> None:
        conn = await asyncpg.connect(**connect_kwargs(url))
        try:
            await conn.execute(TOUCH)
        finally:
            await conn.close()

    best: Figure | None = None
    before = kept_counts(base)
    for _ in range(args.repeats):
        seen = changes(base)
        asyncio.run(touch())
        deadline = time.monotonic() + 10
        while changes(base) == seen:  # until the notification arrives: the cache is empty
            if time.monotonic() > deadline:
                raise RuntimeError("the ranking service did not hear of the change")
            time.sleep(0.02)
        fig = run_wrk(wrk, base, paths_file, args.seconds, args.connections)
        if best is None or fig.rps > best.rps:
            best = fig
    assert best is not None
    return best, share_since(base, before)


LUA_304 = """
local path = os.getenv("WRK_PATH")
local etag = os.getenv("WRK_ETAG")
request = function() return wrk.format("GET", path, {["If-None-Match"] = etag}) end
"""


def run_wrk_304(wrk: str, base: str, path: str, seconds: int, connections: int) -> Figure:
    """One lookup asked again with the ETag of its answer: every reply must be a 304."""
    etag = httpx.get(base + path).headers["ETag"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA_304)
    cmd = [
        "taskset", "-c", "1", wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
        "--timeout", "10s", "-s", script.name, base,
    ]  # fmt: skip
    env = {**os.environ, "WRK_PATH": path, "WRK_ETAG": etag}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    os.unlink(script.name)
    # wrk reports only answers of 400 and above as errors; a 304 carries no body, so the bytes
    # read per answer (headers only) tell a 304 from a 200.
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    read = re.search(r"requests in [\d.]+\w+, ([\d.]+)(B|KB|MB)", out)
    size = float(read.group(1)) * {"B": 1, "KB": 1024, "MB": 1024**2}[read.group(2)] if read else 0
    if "Non-2xx" in out or not total or size / total > 600:
        raise RuntimeError(f"not every answer was a 304:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    return Figure(rps, p50, p99)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="titles to write first")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args(argv)
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench.lookup needs two cores: one for the servers, one for wrk")
    wrk = ensure_wrk()
    with scratch("bench_lookup") as url:
        upgrade("ranking", url)
        asyncio.run(seed(url, args.n))
        print(f"wrote {args.n} titles")
        env = {
            "RANKING_DATABASE_URL": url,
            "RANKING_LOG_LEVEL": "WARNING",
            "RANKING_OUTBOX_RELAY_ENABLED": "false",
            "RANKING_BACKGROUND_ENABLED": "false",
            "BARE_DATABASE_URL": url,
        }
        print(
            f"{'lookup':16} {'ranking':9} {'req/s':>6} {'bare':>6} {'ratio':>6} "
            f"{'p50 ms':>13} {'p99 ms':>13} {'p99 ratio':>9} {'from memory':>11}"
        )
        with (
            server("services.ranking.app:create_app", env, 0) as real,
            server(
                "services.ranking.app:create_app", env | {"RANKING_READ_CACHE_BYTES": "0"}, 0
            ) as uncached,
            server("bench.lookup:create_bare", env, 0) as bare,
            tempfile.TemporaryDirectory() as tmp,
        ):
            servers = {"bare": bare, "kept": real, "database": uncached}
            paths_file = str(Path(tmp) / "paths.txt")
            for name, group in paths(args.n).items():
                Path(paths_file).write_text("\n".join(group) + "\n", encoding="utf-8")
                best, shares = compare(wrk, servers, paths_file, args)
                best["emptied"], shares["emptied"] = emptied(url, wrk, real, paths_file, args)
                print_against_bare(name, 16, best, shares)
            one = paths(args.n)["by uscc"][0]
            for label in ("kept", "database"):
                fig = run_wrk_304(wrk, servers[label], one, args.seconds, args.connections)
                print(
                    f"{'304 by uscc':16} {label:9} {fig.rps:6.0f} {'-':>6} {'-':>6} "
                    f"{fig.p50_ms:6.1f}{'':7} {fig.p99_ms:6.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
