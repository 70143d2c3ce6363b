"""Public search on a million disclosures against a bare FastAPI + asyncpg endpoint.

Run: ``python -m bench.search`` (1,000,000 disclosures, 200 timed requests per query) or
``python -m bench.search --n 100000 --repeats 50`` for a quick run.

A scratch database (dropped at the end) is bulk-loaded with COPY straight into
registry.enterprises and registry.standards: disclosures are generated in worker processes
from a small vocabulary of product words and company-name parts, with the search text and
grams computed by the registry's own functions (``standards.content.searchable``). The
secondary indexes are built after the load, then the table is vacuumed and analysed.

Each query goes through the real registry app in-process (``GET /v1/standards``: auth,
validation, the read SQL, the keyset page, the JSON). The baseline is the same number
of requests, alternating with them, to a bare FastAPI app whose one endpoint runs
``SELECT id FROM registry.standards ORDER BY id LIMIT 20`` on an asyncpg pool. For each query
the plan of the exact statement the app sent is printed (EXPLAIN ANALYZE): index scans, not
sequential ones. The app plans every statement for its parameters (the kit sets ``plan_cache_mode =
force_custom_plan``): a generic plan would not know how common the searched characters are.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request

from bench._common import (
    PER_ENTERPRISE,
    connect_kwargs,
    disclosure,
    in_process,
    median_p95,
    registry_app,
    scratch_database,
)
from services.registry import rules
from services.registry.standards.content import Checked, searchable
from services.registry.standards.schemas import Product, StandardContent

TASK = 20_000  # disclosures per worker task (a multiple of PER_ENTERPRISE)
STANDARD_COLUMNS = (
    "id",
    "uscc",
    "source_id",
    "standard_no",
    "standard_no_key",
    "standard_type",
    "name",
    "category_code",
    "region",
    "status",
    "publication_date",
    "implementation_date",
    "current_version",
    "row_version",
    "withdrawn_reason",
    "withdrawn_at",
    "hidden",
    "search_text",
    "grams",
    "created_at",
    "updated_at",
)
ENTERPRISE_COLUMNS = (
    "uscc",
    "name",
    "region",
    "industry_code",
    "verification",
    "blocked",
    "blocked_reason",
    "row_version",
    "created_at",
    "updated_at",
)


# --------------------------------------------------------------------------------------------
# Bulk load
# --------------------------------------------------------------------------------------------


def standard_record(i: int, now: datetime) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """Disclosure ``i`` as a registry.standards row (and its enterprise's row, once)."""
    f, raw = disclosure(i)
    blocked = f.serial % 200 == 7
    # Built without validation (the generator makes valid content), every field given: a
    # default factory left to model_construct costs more than the rest of the row.
    content = StandardContent.model_construct(
        standard_no=raw["standard_no"],
        name=raw["name"],
        subject=raw["subject"],
        category=raw["category"],
        products=[Product.model_construct(**p) for p in raw["products"]],
        indicators=[],
        full_text_public=raw["full_text_public"],
        self_commitment=True,
    )
    number = rules.normalise_standard_no(raw["standard_no"])
    checked = Checked(content, number, number.replace(" ", ""), rules.standard_type(number), "")
    search_text, grams = searchable(checked, f.name)
    status = "abolished" if i % 50 < 4 else "superseded" if i % 50 == 4 else "current"
    rng = random.Random(i)
    row = (
        uuid.UUID(int=rng.getrandbits(128), version=4),
        f.uscc,
        f"NP-{i:09d}",
        number,
        checked.standard_no_key,
        checked.standard_type,
        raw["name"],
        raw["category"],
        f.region,
        status,
        date.fromisoformat(raw["publication_date"]),
        date.fromisoformat(raw["implementation_date"]),
        1,
        1,
        "已废止" if status == "abolished" else None,
        now if status != "current" else None,
        blocked,
        search_text,
        grams,
        now,
        now,
    )
    enterprise = None
    if i % PER_ENTERPRISE == 0:
        reason = "虚假声明" if blocked else None
        enterprise = (f.uscc, f.name, f.region, None, "unverified", blocked, reason, 1, now, now)
    return row, enterprise


async def _load(url: str, start: int, stop: int) -> int:
    now = datetime.now(UTC)
    standards, enterprises = [], []
    for i in range(start, stop):
        row, enterprise = standard_record(i, now)
        standards.append(row)
        if enterprise is not None:
            enterprises.append(enterprise)
    conn = await asyncpg.connect(**connect_kwargs(url))
    try:
        # The generated rows are consistent; skipping the per-row foreign-key triggers is only
        # for load speed (allowed to superusers; without it the load is just slower).
        with contextlib.suppress(asyncpg.PostgresError):
            await conn.execute("SET session_replication_role = replica")
        async with conn.transaction():
            await conn.copy_records_to_table(
                "enterprises",
                schema_name="registry",
                columns=ENTERPRISE_COLUMNS,
                records=enterprises,
            )
            await conn.copy_records_to_table(
                "standards", schema_name="registry", columns=STANDARD_COLUMNS, records=standards
            )
    finally:
        await conn.close()
    return stop - start


def load_task(args: tuple[str, int, int]) -> int:
    return asyncio.run(_load(*args))


async def _indexes(url: str, build: list[str] | None) -> list[str]:
    """Drop the secondary indexes of registry.standards (returning them), or build them."""
    conn = await asyncpg.connect(**connect_kwargs(url))
    try:
        if build is not None:
            await conn.execute("SET maintenance_work_mem = '1GB'")
            for ddl in build:
                await conn.execute(ddl)
            await conn.execute("VACUUM ANALYZE registry.standards")
            await conn.execute("ANALYZE registry.enterprises")
            return build
        rows = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'registry' "
            "AND tablename = 'standards' AND indexname LIKE 'ix_%'"
        )
        for row in rows:
            await conn.execute(f'DROP INDEX registry."{row["indexname"]}"')
        return [row["indexdef"] for row in rows]
    finally:
        await conn.close()


def bulk_load(url: str, n: int) -> None:
    indexes = asyncio.run(_indexes(url, None))
    tasks = [(url, start, min(n, start + TASK)) for start in range(0, n, TASK)]
    workers = max(1, os.cpu_count() or 1)
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        loaded = sum(pool.imap_unordered(load_task, tasks))
    generated = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(_indexes(url, indexes))
    built = time.perf_counter() - started
    print(
        f"loaded {loaded} disclosures of {n // PER_ENTERPRISE} enterprises in {generated:.0f} s "
        f"({workers} processes: generate, grams, COPY); indexes + VACUUM ANALYZE {built:.0f} s"
    )


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------


def queries(n: int) -> list[tuple[str, dict[str, str]]]:
    sample = (n // 2) - (n // 2) % PER_ENTERPRISE + 2
    f, raw = disclosure(sample)
    variant = raw["standard_no"].lower().replace(" ", "").replace("-", "—")
    return [
        ("1 char 锅", {"q": "锅"}),
        ("2 chars 冰箱", {"q": "冰箱"}),
        ("3 chars 电饭锅", {"q": "电饭锅"}),
        (f"company part {f.brand}{f.trade}", {"q": f.brand + f.trade}),
        (f"standard no. {variant}", {"q": variant}),
        ("q 空调 + region 120116", {"q": "空调", "region": "120116"}),
        ("category + status", {"category": "HA-REFRIGERATOR", "status": "current"}),
        ("no filter", {}),
    ]


def bare_app(url: str) -> FastAPI:
    """The baseline: FastAPI and an asyncpg pool, one fixed query, nothing else."""
    app = FastAPI()

    @app.get("/ids")
    async def ids(request: Request) -> list[str]:
        rows = await request.app.state.pool.fetch(
            "SELECT id FROM registry.standards ORDER BY id LIMIT 20"
        )
        return [str(r["id"]) for r in rows]

    return app


def plan_nodes(plan: dict[str, Any]) -> list[str]:
    """The plan's nodes, depth first, as ``Node Type [index] (actual ms)``."""
    out = []

    def walk(node: dict[str, Any], depth: int) -> None:
        label = node["Node Type"]
        if "Index Name" in node:
            label += f" on {node['Index Name']}"
        elif "Relation Name" in node:
            label += f" on {node['Relation Name']}"
        out.append("  " * depth + f"{label} (rows {node.get('Actual Rows')})")
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(plan, 0)
    return out


async def measure(url: str, n: int, repeats: int) -> None:
    app = registry_app(url, pool_size=5)
    captured: list[tuple[str, Any]] = []
    # The search runs plain SQL on asyncpg (services.registry.standards.reads): record what
    # it sends, to EXPLAIN exactly that.
    fetch = asyncpg.Connection.fetch

    async def recording_fetch(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        if "FROM registry.standards" in query:
            captured.append((query, args))
        return await fetch(self, query, *args, **kw)

    asyncpg.Connection.fetch = recording_fetch

    bare = bare_app(url)
    bare.state.pool = await asyncpg.create_pool(**connect_kwargs(url), min_size=1, max_size=5)
    explain = await asyncpg.connect(**connect_kwargs(url))
    results = []
    try:
        async with (
            in_process(app) as client,
            in_process(bare) as baseline,
        ):
            for label, params in queries(n):
                captured.clear()
                first = await client.get("/v1/standards", params=params)
                assert first.status_code == 200, first.text
                found = len(first.json()["items"])
                statement, args = captured[-1]
                plan = await explain.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, *args)
                nodes = plan_nodes(json.loads(plan)[0]["Plan"])
                targets = [(client, "/v1/standards", params), (baseline, "/ids", {})]
                samples: list[list[float]] = [[], []]
                for _ in range(10):  # warm up (and past the 5 runs before generic plans)
                    for http, path, query in targets:
                        await http.get(path, params=query)
                for _ in range(repeats):  # interleaved, so all see the same machine
                    for (http, path, query), times in zip(targets, samples, strict=True):
                        started = time.perf_counter()
                        response = await http.get(path, params=query)
                        times.append((time.perf_counter() - started) * 1000)
                        assert response.status_code == 200
                results.append((label, found, [median_p95(t) for t in samples], nodes))
    finally:
        await explain.close()
        await bare.state.pool.close()
        await app.state.db.dispose()
        asyncpg.Connection.fetch = fetch

    print(
        f"{repeats} timed requests per query and kind, ms median / p95; ratio = median / "
        "median of the bare endpoint"
    )
    print(f"{'query':38} {'rows':>4} {'app':>15} {'ratio':>6} {'bare':>13}")
    for label, found, ((a_med, a_p95), (b_med, b_p95)), _ in results:
        print(
            f"{label:38} {found:>4} {a_med:6.2f} / {a_p95:6.2f} {a_med / b_med:5.1f}x "
            f"{b_med:5.2f} / {b_p95:5.2f}"
        )
    print("plans (EXPLAIN ANALYZE of the statement the app sent, with its parameters):")
    for label, _, _, nodes in results:
        print(f"- {label}")
        for node in nodes:
            print(f"    {node}")


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="disclosures (default 1M)")
    parser.add_argument("--repeats", type=int, default=200, help="timed requests per query")
    args = parser.parse_args(argv)
    n = args.n - args.n % PER_ENTERPRISE
    started = time.perf_counter()
    with scratch_database("forerunner_bench_search") as url:
        bulk_load(url, n)
        asyncio.run(measure(url, n, args.repeats))
    print(f"total {time.perf_counter() - started:.0f} s (scratch database dropped)")


if __name__ == "__main__":
    main()
