"""An evaluation run of one category, end to end, against the engine alone on the same data.

Run: ``python -m bench.run`` (10,000 disclosures) or ``--n 2000`` for a quick run.

In a scratch database (dropped at the end), N rice-cooker disclosures are synced into the
registry, which then serves them from a uvicorn subprocess on 127.0.0.1 (real HTTP, stopped by
its PID at the end). The ranking app runs in this process with oversight stubbed (it is not
built yet). Timed end to end: ``POST /v1/plans/{id}/runs`` answered, the worker step (stream
the category from the registry, exclusions, snapshot, engine in a thread, COPY of the rows in
one transaction), until the run reads ``succeeded``. The baseline is ``engine.rank`` alone on
the run's stored snapshot, batch already built. Phases are then timed one by one to say where
the time goes. Each figure is the best of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from stdnum.cn import uscc as stdnum_uscc

from bench._common import bearer, disclosure, in_process, registry_app
from bench._common import scratch_database as scratch
from services.clients.oversight import OversightClient
from services.kit.auth import Role, mint_token
from services.kit.migrations import upgrade
from services.kit.settings import DEV_JWT_SECRET
from services.ranking import engine
from services.ranking.app import create_app
from services.ranking.runs import snapshot as snap
from services.ranking.runs import worker
from services.ranking.settings import RankingSettings

ROOT = Path(__file__).resolve().parent.parent
CATEGORY = "HA-RICE-COOKER"
DEADLINE_SECONDS = 600


def rice_cookers(n: int) -> list[bytes]:
    """N disclosures of one category with its three core indicators, as sync batches."""
    lines = []
    for i in range(n):
        f, content = disclosure(i, seed=7)
        k = (i * 7919) % 1000 / 1000
        content["category"] = CATEGORY
        content["indicators"] = [
            {
                "code": "thermal_efficiency",
                "operator": "≥",
                "value": round(80 + 15 * k, 1),
                "unit": "%",
            },
            {
                "code": "standby_power",
                "operator": "≤",
                "value": round(0.4 + (i % 17) / 10, 2),
                "unit": "W",
            },
            {"code": "noise", "operator": "≤", "value": float(40 + i % 13), "unit": "dB(A)"},
        ]
        item = {
            "source_id": f"BR-{i:09d}",
            "enterprise": {"uscc": f.uscc, "name": f.name, "region": f.region},
            "standard": content,
        }
        lines.append(json.dumps(item, ensure_ascii=False))
    step = 5000
    return [("\n".join(lines[s : s + step]) + "\n").encode() for s in range(0, n, step)]


async def seed(url: str, bodies: list[bytes]) -> None:
    app = registry_app(url)
    headers = {**bearer(Role.sync), "Content-Type": "application/x-ndjson"}
    try:
        async with in_process(app) as client:
            for body in bodies:
                (
                    await client.post("/v1/sync/standards", content=body, headers=headers)
                ).raise_for_status()
    finally:
        await app.state.db.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_registry(url: str) -> Iterator[str]:
    """The registry in a uvicorn subprocess on 127.0.0.1, stopped by its PID on the way out."""
    port = free_port()
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_LOG_LEVEL": "WARNING",
        "REGISTRY_OUTBOX_RELAY_ENABLED": "false",
    }
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.registry.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the registry did not start")
        yield base
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def stub_oversight() -> OversightClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    return OversightClient("http://oversight", None, transport=httpx.MockTransport(handler))


def auth(role: str, org: str | None = None, sub: str | None = None) -> dict[str, str]:
    token = mint_token(DEV_JWT_SECRET, role=role, sub=sub or f"{role}:bench", org=org)
    return {"Authorization": f"Bearer {token}"}


async def active_plan(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    regulator = auth("regulator")
    area = (
        await client.post(
            "/v1/key-areas",
            headers=regulator,
            json={"year": 2026, "level": "municipal", "name": "电饭锅", "categories": [CATEGORY]},
        )
    ).json()["id"]
    code = "91120116MA05BNCH1"
    body = (
        await client.post(
            "/v1/evaluators",
            headers=auth("enterprise", "x"),
            json={
                "name": "评估机构",
                "uscc": code + stdnum_uscc.calc_check_digit(code),
                "contact": {"person": "李"},
                "key_areas": [area],
            },
        )
    ).json()
    body_id = body["id"]
    await client.post(
        f"/v1/evaluators/{body_id}/approval", headers=regulator, json={"decision": "approved"}
    )
    own = auth("evaluator", body_id)
    spec = [
        {
            "code": "thermal_efficiency",
            "unit": "%",
            "baseline": 82,
            "benchmark": 96,
            "tiering": {"quantiles": 5},
        },
        {"code": "standby_power", "unit": "W", "baseline": 2.0, "tiering": {"cuts": [0.5, 1.0]}},
        {"code": "noise", "unit": "dB(A)", "baseline": 52, "weight": 0.5},
    ]
    plan = (
        await client.post(
            "/v1/plans",
            headers=own,
            json={
                "key_area_id": area,
                "name": "基准",
                "categories": [CATEGORY],
                "indicators": spec,
                "method": "composite",
                "selection": {"rule": "top_percent", "percent": 5},
                "cycle": {"valid_from": "2026-06-01", "valid_to": "2027-05-31"},
                "publicity_days": 5,
            },
        )
    ).json()
    plan_id = plan["id"]
    await client.post(f"/v1/plans/{plan_id}/submission", headers={**own, "If-Match": "*"})
    await client.post(
        "/v1/experts",
        headers=regulator,
        json={"subject": "expert:bench", "name": "专家", "affiliation": "大学"},
    )
    await client.post(
        f"/v1/plans/{plan_id}/reviews",
        headers=auth("expert", sub="expert:bench"),
        json={"verdict": "approve", "comments": "可"},
    )
    detail = (await client.get(f"/v1/plans/{plan_id}", headers=own)).json()
    notice = detail["version"]["notice_id"]  # ranking's own id of the notice it sent
    outcome = await client.post(
        "/v1/publicity-outcomes",
        headers=auth("service"),
        json={
            "notice_id": "00000000-0000-4000-8000-000000000000",  # oversight's id: any here
            "source_id": notice,
            "closed_on": "2026-03-20",
            "objections": 0,
            "upheld": [],
        },
    )
    outcome.raise_for_status()
    activated = await client.post(
        f"/v1/plans/{plan_id}/decision",
        headers={**own, "If-Match": "*"},
        json={"action": "activate"},
    )
    activated.raise_for_status()
    return plan_id, own


async def measure(url: str, registry_url: str, repeats: int) -> dict[str, Any]:
    settings = RankingSettings(
        database_url=url,
        registry_url=registry_url,
        log_level="WARNING",
        log_json=False,
        outbox_relay_enabled=False,
        background_enabled=False,
        min_reviewers=1,
    )
    app = create_app(settings, oversight=stub_oversight())
    out: dict[str, Any] = {"e2e": [], "engine": [], "batch": [], "fetch": [], "compute": []}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ranking", timeout=600
        ) as client:
            plan_id, own = await active_plan(client)
            for _ in range(repeats):
                start = time.perf_counter()
                started = await client.post(f"/v1/plans/{plan_id}/runs", headers=own)
                location = started.headers["Location"]
                while await worker.run_step(app):
                    pass
                run = (await client.get(location, headers=own)).json()
                out["e2e"].append(time.perf_counter() - start)
                assert run["state"] == "succeeded", run
                out["run"] = run
            snapshot = (await client.get(f"{location}/snapshot")).json()
        for _ in range(repeats):
            t0 = time.perf_counter()
            batch = snap.batch(snapshot)
            t1 = time.perf_counter()
            result = engine.rank(batch)
            t2 = time.perf_counter()
            out["batch"].append(t1 - t0)
            out["engine"].append(t2 - t1)
        assert result.result_digest() == out["run"]["result_digest"]
        # Where the time goes: the phases of a run, one by one, as a run has them (with the
        # cyclic collector held off).
        for _ in range(repeats):
            with worker.collector_paused():
                t0 = time.perf_counter()
                rows = await worker.fetch_disclosures(app.state.registry, [CATEGORY], 1)
                t1 = time.perf_counter()
                inputs = snap.Inputs(plan_id, 1, snapshot["plan"], rows, [])
                worker.compute(inputs)
                t2 = time.perf_counter()
            out["fetch"].append(t1 - t0)
            out["compute"].append(t2 - t1)
    finally:
        await app.state.db.dispose()
        await app.state.oversight.aclose()
        for c in app.state.clients.values():
            await c.aclose()
    return out


def run(n: int, repeats: int) -> None:
    began = time.monotonic()
    bodies = rice_cookers(n)
    with scratch(f"forerunner_bench_run_{uuid.uuid4().hex[:6]}") as url:
        upgrade("ranking", url)
        asyncio.run(seed(url, bodies))
        with live_registry(url) as registry_url:
            figures = asyncio.run(
                asyncio.wait_for(measure(url, registry_url, repeats), DEADLINE_SECONDS)
            )
    e2e, eng = min(figures["e2e"]), min(figures["engine"])
    fetch, compute, batch = min(figures["fetch"]), min(figures["compute"]), min(figures["batch"])
    store = e2e - fetch - compute
    run_ = figures["run"]
    print(
        f"one category, {run_['n_candidates']} disclosures ({run_['n_eligible']} eligible, "
        f"{run_['n_selected']} selected), best of {repeats}"
    )
    print(
        f"end to end (POST to stored results): {e2e:6.3f} s   target <= 2 s: "
        f"{'met' if e2e <= 2 else 'NOT met'}"
    )
    print(
        f"engine alone on the same snapshot:   {eng:6.3f} s   (batch from snapshot {batch:.3f} s)"
    )
    print(f"ratio: end to end is {e2e / eng:.1f}x the engine alone")
    print(
        f"where the time goes: registry stream {fetch:.3f} s, snapshot+engine+rows in a "
        f"thread {compute:.3f} s, claim/store/requests {max(store, 0):.3f} s"
    )
    print(f"(whole bench {time.monotonic() - began:.0f} s, scratch database dropped)")


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="disclosures (default 10,000)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    run(args.n, args.repeats)


if __name__ == "__main__":
    main()
