"""Single-item declaration latency (POST /v1/standards) against a bare asyncpg INSERT.

Run: ``python -m bench.declare`` (300 timed declarations) or ``--n 100`` for a quick run.

In a scratch database (dropped at the end), enterprises are registered, then each timed
request declares one standard through the real registry app, called in-process (auth,
validation, the rules, the write, change feed and audit rows, the response). Alternating with
the requests, the baseline inserts the rows that request stored (its standard and its first
version, read back untimed) with a bare asyncpg connection, in a transaction of its own, into
tables of the same columns and indexes (``LIKE ... INCLUDING INDEXES``). The ratio of the
medians is the app's cost per declaration over the bare write of the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench._common import (
    connect_kwargs,
    disclosure,
    in_process,
    median_p95,
    registry_app,
    scratch_database,
)
from services.kit.auth import Role, mint_token
from services.kit.settings import DEV_JWT_SECRET

WARM_UP = 20


def headers_for(uscc: str) -> dict[str, str]:
    token = mint_token(DEV_JWT_SECRET, role=Role.enterprise, sub=f"bench:{uscc}", org=uscc)
    return {"Authorization": f"Bearer {token}"}


async def bare_insert(conn: Any, standard: Any, version: Any) -> float:
    """Seconds to insert one standard and its version in a transaction of its own."""
    s_sql, v_sql = (
        # Column names come from the registry's own tables, not from input.
        f"INSERT INTO public.{table} ({', '.join(row)}) "  # noqa: S608
        f"VALUES ({', '.join(f'${i + 1}' for i in range(len(row)))})"
        for table, row in (("bench_standards", standard), ("bench_versions", version))
    )
    start = time.perf_counter()
    async with conn.transaction():
        await conn.execute(s_sql, *standard.values())
        await conn.execute(v_sql, *version.values())
    return time.perf_counter() - start


async def measure(url: str, n: int) -> tuple[list[float], list[float]]:
    app = registry_app(url)
    conn = await asyncpg.connect(**connect_kwargs(url))
    await conn.execute(
        "CREATE TABLE public.bench_standards (LIKE registry.standards INCLUDING INDEXES);"
        "CREATE TABLE public.bench_versions (LIKE registry.standard_versions INCLUDING INDEXES)"
    )
    app_times: list[float] = []
    bare_times: list[float] = []
    try:
        async with in_process(app) as client:
            registered: set[str] = set()
            for i in range(WARM_UP + n):
                f, content = disclosure(i)
                headers = headers_for(f.uscc)
                if f.uscc not in registered:
                    body = {"uscc": f.uscc, "name": f.name, "region": f.region}
                    response = await client.post("/v1/enterprises", json=body, headers=headers)
                    response.raise_for_status()
                    registered.add(f.uscc)
                start = time.perf_counter()
                response = await client.post(
                    "/v1/standards", json={"uscc": f.uscc, **content}, headers=headers
                )
                elapsed = time.perf_counter() - start
                assert response.status_code == 201, response.text
                sid = response.json()["id"]
                standard = await conn.fetchrow("SELECT * FROM registry.standards WHERE id=$1", sid)
                version = await conn.fetchrow(
                    "SELECT * FROM registry.standard_versions WHERE standard_id=$1", sid
                )
                bare = await bare_insert(conn, dict(standard), dict(version))
                if i >= WARM_UP:
                    app_times.append(elapsed)
                    bare_times.append(bare)
    finally:
        await conn.close()
        await app.state.db.dispose()
    return app_times, bare_times


def run(n: int) -> None:
    with scratch_database("forerunner_bench_declare") as url:
        app_times, bare_times = asyncio.run(measure(url, n))
    app_median, app_p95 = median_p95(app_times)
    bare_median, bare_p95 = median_p95(bare_times)
    print(f"POST /v1/standards:  median {app_median * 1000:6.2f} ms  p95 {app_p95 * 1000:6.2f} ms")
    print(
        f"bare asyncpg INSERT: median {bare_median * 1000:6.2f} ms  p95 {bare_p95 * 1000:6.2f} ms"
    )
    print(f"ratio: a declaration takes {app_median / bare_median:.1f}x the bare INSERT (median)")


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="timed declarations (default 300)")
    run(parser.parse_args(argv).n)


if __name__ == "__main__":
    main()
