"""Bulk sync ingest against raw COPY of the same rows.

Run: ``python -m bench.ingest`` (20,000 disclosures) or ``--n 5000`` for a quick run.

In a scratch database (dropped at the end), N synthetic disclosures go through
``POST /v1/sync/standards`` of the real registry app, called in-process, as NDJSON in batches
of 5,000: validation, hashing, search grams, enterprises, standards, versions, change feed and
audit rows, all indexes. The same batches are then pushed again (all unchanged: the idempotent
path). The baseline copies the rows the sync stored (standards and their versions, read back)
with asyncpg ``copy_records_to_table`` into plain tables of the same columns, without indexes;
a second baseline copies them into tables with the registry's indexes too. The COPY figures
are the best of three runs, so the ratios lean against the sync, not for it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench._common import bearer, connect_kwargs, disclosure, in_process, registry_app
from bench._common import scratch_database as scratch
from services.kit.auth import Role


def ndjson_batches(n: int, batch: int) -> list[bytes]:
    lines = []
    for i in range(n):
        f, content = disclosure(i)
        item = {
            "source_id": f"NP-{i:09d}",
            "enterprise": {"uscc": f.uscc, "name": f.name, "region": f.region},
            "standard": content,
        }
        lines.append(json.dumps(item, ensure_ascii=False))
    return [
        ("\n".join(lines[start : start + batch]) + "\n").encode() for start in range(0, n, batch)
    ]


async def push_all(url: str, bodies: list[bytes]) -> tuple[float, dict[str, int]]:
    app = registry_app(url)
    headers = {**bearer(Role.sync), "Content-Type": "application/x-ndjson"}
    totals: dict[str, int] = {}
    try:
        async with in_process(app) as client:
            start = time.perf_counter()
            for body in bodies:
                response = await client.post("/v1/sync/standards", content=body, headers=headers)
                response.raise_for_status()
                for key, value in response.json()["totals"].items():
                    totals[key] = totals.get(key, 0) + value
            elapsed = time.perf_counter() - start
    finally:
        await app.state.db.dispose()
    return elapsed, totals


async def copy_baseline(url: str, repeats: int = 3) -> tuple[float, float]:
    """Seconds to COPY the stored rows into plain tables, and into indexed ones (best of 3)."""
    conn = await asyncpg.connect(**connect_kwargs(url))
    try:
        standards = await conn.fetch("SELECT * FROM registry.standards")
        versions = await conn.fetch("SELECT * FROM registry.standard_versions")
        s_cols, v_cols = list(standards[0].keys()), list(versions[0].keys())
        s_rows = [tuple(r) for r in standards]
        v_rows = [tuple(r) for r in versions]
        best = []
        for kind, like in (("plain", ""), ("indexed", " INCLUDING INDEXES")):
            await conn.execute(
                f"CREATE TABLE public.{kind}_standards (LIKE registry.standards{like});"
                f"CREATE TABLE public.{kind}_versions (LIKE registry.standard_versions{like})"
            )
            times = []
            for _ in range(repeats):
                await conn.execute(f"TRUNCATE public.{kind}_standards, public.{kind}_versions")
                start = time.perf_counter()
                async with conn.transaction():
                    await conn.copy_records_to_table(
                        f"{kind}_standards", records=s_rows, columns=s_cols, schema_name="public"
                    )
                    await conn.copy_records_to_table(
                        f"{kind}_versions", records=v_rows, columns=v_cols, schema_name="public"
                    )
                times.append(time.perf_counter() - start)
            best.append(min(times))
        return best[0], best[1]
    finally:
        await conn.close()


def run(n: int, batch: int) -> None:
    start = time.perf_counter()
    bodies = ndjson_batches(n, batch)
    prepared = time.perf_counter() - start
    size = sum(len(b) for b in bodies) / 2**20
    with scratch("forerunner_bench_ingest") as url:
        t_sync, totals = asyncio.run(push_all(url, bodies))
        assert totals.get("created") == n, totals
        t_again, again = asyncio.run(push_all(url, bodies))
        assert again.get("unchanged") == n, again
        t_copy, t_copy_indexed = asyncio.run(copy_baseline(url))
    rate, rate_again = n / t_sync, n / t_again
    rate_copy, rate_indexed = n / t_copy, n / t_copy_indexed
    print(
        f"generated {n} disclosures ({size:.1f} MiB NDJSON, {len(bodies)} batches) in "
        f"{prepared:.1f} s"
    )
    print(f"sync, new:        {t_sync:6.2f} s  {rate:8.0f} disclosures/s")
    print(f"sync, unchanged:  {t_again:6.2f} s  {rate_again:8.0f} disclosures/s")
    print(f"COPY, plain:      {t_copy:6.2f} s  {rate_copy:8.0f} disclosures/s (baseline)")
    print(f"COPY, indexed:    {t_copy_indexed:6.2f} s  {rate_indexed:8.0f} disclosures/s")
    print(
        f"ratio: sync is {rate_copy / rate:.1f}x slower than plain COPY, "
        f"{rate_indexed / rate:.1f}x slower than indexed COPY; "
        f"an unchanged re-sync is {rate_copy / rate_again:.1f}x slower than plain COPY"
    )


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="disclosures (default 20,000)")
    parser.add_argument("--batch", type=int, default=5_000, help="items per sync request")
    args = parser.parse_args(argv)
    run(args.n, args.batch)


if __name__ == "__main__":
    main()
