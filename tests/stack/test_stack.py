"""A short walk through the gateway of the running stack (``make test-stack``).

Every request goes through nginx; the services talk to PostgreSQL through PgBouncer in
transaction mode. Timings are printed (``-s``), never asserted.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import uuid

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import auth
from tests.registry.conftest import enterprise_body, make_uscc, standard_body

pytestmark = pytest.mark.stack

REGULATOR = auth("regulator", org="tj-amr")
RANKING = auth("service", sub="service:ranking")


def _counted(metrics: str, method: str, route: str) -> int:
    labels = rf'[^}}]*method="{method}"[^}}]*route="{re.escape(route)}"[^}}]*'
    pattern = rf"http_requests_total{{{labels}}} (\S+)"
    return int(sum(float(v) for v in re.findall(pattern, metrics)))


async def _audit_request_ids(database_url: str, schema: str) -> set[str]:
    u = make_url(database_url)
    conn = await asyncpg.connect(
        user=u.username, password=u.password, database=u.database, host=u.host, port=u.port
    )
    try:
        rows = await conn.fetch(f"SELECT request_id FROM {schema}.audit_log")  # noqa: S608
    finally:
        await conn.close()
    return {r["request_id"] for r in rows}


def test_a_walk_through_the_gateway(stack, stack_database, capsys):
    gateway = stack["gateway"]
    timings: dict[str, float] = {"startup": stack["startup_seconds"]}
    uscc = make_uscc(serial=int(uuid.uuid4().int % 9_000_000))
    owner = auth("enterprise", uscc)
    with httpx.Client(base_url=gateway, timeout=30) as client:
        for service in ("registry", "ranking", "oversight"):
            assert client.get(f"/readyz/{service}").json()["status"] == "ready"

        t = time.perf_counter()
        rid = f"stack-walk-{uuid.uuid4().hex[:8]}"
        registered = client.post(
            "/v1/enterprises",
            json=enterprise_body(uscc),
            headers={**owner, "X-Request-ID": rid},
        )
        assert registered.status_code == 201, registered.text
        # The caller's request id comes back, and it reached the service (its audit row).
        assert registered.headers["X-Request-ID"] == rid
        declared = client.post("/v1/standards", json=standard_body(uscc), headers=owner)
        assert declared.status_code == 201, declared.text
        area = client.post(
            "/v1/key-areas",
            json={
                "year": 2026,
                "level": "municipal",
                "name": "家用电器",
                "categories": ["HA-RICE-COOKER"],
            },
            headers=REGULATOR,
        )
        assert area.status_code == 201, area.text
        notice = client.post(
            "/v1/notices",
            json={
                "kind": "shortlist_publicity",
                "title": "2026年度电饭锅企业标准领跑者入围名单公示",
                "body": "现将入围名单予以公示。",
                "subject": {"type": "run", "id": "run-stack"},
                "window": {"working_days": 5},
                "payload": {"plan_id": "plan-stack", "entries": 1},
            },
            headers=RANKING,
        )
        assert notice.status_code == 201, notice.text
        timings["walk (4 writes)"] = time.perf_counter() - t

        t = time.perf_counter()
        verified = subprocess.run(
            [sys.executable, "-m", "services.oversight.verify", gateway],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
        timings["verify chain"] = time.perf_counter() - t

        # A request id the services would refuse is replaced at the gateway, consistently.
        odd = client.get("/v1/categories", headers={"X-Request-ID": "not a valid id"})
        assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["X-Request-ID"])
        generated = client.get("/v1/nowhere")
        assert generated.status_code == 404
        assert generated.headers["content-type"] == "application/problem+json"
        assert generated.json()["code"] == "not_found"
        assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-ID"])

        # Over the gateway's limit: nginx answers 413 problem+json before any service.
        big = b"x" * (3 * 1024 * 1024)
        # Each on a connection of its own: a server that answers before reading a body may
        # close the connection, and the next request on it would find it gone.
        too_large = httpx.post(
            f"{gateway}/v1/enterprises",
            content=big,
            headers={**owner, "Content-Type": "application/json", "X-Request-ID": "big-1"},
            timeout=30,
        )
        assert too_large.status_code == 413
        assert too_large.json()["detail"] == "the body is larger than the gateway accepts"
        assert too_large.headers["X-Request-ID"] == "big-1"
        # Bulk sync has the larger limit: the same body reaches the registry.
        synced = httpx.post(
            f"{gateway}/v1/sync/standards", content=big, headers=REGULATOR, timeout=30
        )
        assert synced.status_code != 413 or "gateway" not in synced.text

        # Enough reads for round robin to reach both replicas of each service.
        t = time.perf_counter()
        for _ in range(6):
            assert client.get("/v1/categories").status_code == 200
            assert client.get("/v1/key-areas", headers=REGULATOR).status_code == 200
            assert client.get("/v1/notices").status_code == 200
        timings["18 reads"] = time.perf_counter() - t

    for service, route in (
        ("registry", "/v1/categories"),
        ("ranking", "/v1/key-areas"),
        ("oversight", "/v1/notices"),
    ):
        counts = [
            _counted(httpx.get(f"http://127.0.0.1:{port}/metrics").text, "GET", route)
            for port in stack["replicas"][service]
        ]
        assert all(c > 0 for c in counts), f"{service} replicas answered {counts}"

    assert rid in asyncio.run(_audit_request_ids(stack_database, "registry"))
    with capsys.disabled():
        print("\nstack timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))


async def test_concurrent_writes_and_reads_through_the_pooler(stack):
    """Many clients at once on few server connections: no statement of one may meet
    another's (transaction pooling), and every request succeeds."""
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=stack["gateway"], timeout=60) as client:

        async def one(n: int) -> tuple[int, int]:
            uscc = make_uscc(serial=int(uuid.uuid4().int % 9_000_000))
            owner = auth("enterprise", uscc)
            r = await client.post("/v1/enterprises", json=enterprise_body(uscc), headers=owner)
            s = await client.post("/v1/standards", json=standard_body(uscc), headers=owner)
            got = await client.get("/v1/standards", params={"q": "电饭锅", "limit": 5})
            return r.status_code, s.status_code if got.status_code == 200 else got.status_code

        results = await asyncio.gather(*(one(n) for n in range(40)))
    elapsed = time.perf_counter() - started
    assert results == [(201, 201)] * 40
    print(f"\n40 clients x 3 requests through gateway and pooler: {elapsed:.2f} s")
