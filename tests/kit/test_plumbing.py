"""The kit's request plumbing on its own: If-Match, the clock, background steps, bulk audit."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from prometheus_client import generate_latest
from sqlalchemy import select

from services.kit import audit
from services.kit.auth import Principal, Role
from services.kit.background import Periodic
from services.kit.clock import FixedClock
from services.kit.observability import Metrics
from services.kit.preconditions import Precondition, etag
from services.kit.problems import PreconditionFailed
from services.registry.models import kit_tables


def test_if_match_accepts_its_own_strong_tags_only():
    Precondition.parse(etag(3)).check(3)
    Precondition.parse('"1", "3"').check(3)
    Precondition.parse("*").check(99)
    for header in ('"2"', 'W/"3"', "3", '"3', "", '"x"'):
        with pytest.raises(PreconditionFailed) as err:
            Precondition.parse(header).check(3)
        assert err.value.code == "stale_etag"


def test_fixed_clock_moves_only_when_told():
    clock = FixedClock(datetime(2026, 10, 1, 9, tzinfo=UTC))
    assert clock.now() == datetime(2026, 10, 1, 9, tzinfo=UTC)
    clock.advance(timedelta(days=8))
    assert clock.now() == datetime(2026, 10, 9, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 10, 1))


async def test_periodic_drains_work_then_waits_and_survives_a_failing_step():
    calls: list[int] = []
    queue = [3, 2, 1, 0]

    async def step(app: object) -> int:
        calls.append(len(calls))
        if len(calls) == 5:
            raise RuntimeError("a bad pass is logged, the loop goes on")
        return queue.pop(0) if queue else 0

    stop = asyncio.Event()
    task = asyncio.create_task(Periodic("t", 0.01, step).run_forever(None, stop))
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 1)
    # 3, 2, 1 back to back, then 0 (idle), then the failure, then idle passes again.
    assert len(calls) >= 6


async def test_each_replica_counts_its_background_passes_and_items():
    queue = [2, 1]

    async def step(app: object) -> int:
        return queue.pop(0) if queue else 0

    app = SimpleNamespace(state=SimpleNamespace(metrics=Metrics("ranking")))
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(Periodic(name, 0.01, step).run_forever(app, stop))
        for name in ("lapses", "feed")
    ]
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 1)
    exposed = generate_latest(app.state.metrics.registry).decode()
    items = re.findall(r'background_items_total\{service="ranking",step="(\w+)"\} (\S+)', exposed)
    assert sum(float(n) for _, n in items) == 3  # each item once, whichever loop took it
    for name in ("lapses", "feed"):
        passes = re.search(rf'background_passes_total\{{[^}}]*step="{name}"\}} (\S+)', exposed)
        assert passes is not None, exposed
        assert float(passes.group(1)) >= 2, exposed  # the busy passes and at least one idle


async def test_record_many_writes_one_row_each(session):
    who = Principal(sub="sync:1", role=Role.sync, org=None)
    await audit.record_many(
        session, kit_tables, who, "create", "standard", [("a", {"n": 1}), ("b", None)]
    )
    rows = (
        await session.execute(
            select(kit_tables.audit.c.entity_id, kit_tables.audit.c.detail, kit_tables.audit.c.sub)
            .where(kit_tables.audit.c.entity == "standard")
            .order_by(kit_tables.audit.c.entity_id)
        )
    ).all()
    assert [tuple(r) for r in rows] == [("a", {"n": 1}, "sync:1"), ("b", None, "sync:1")]


def test_a_clock_offset_is_refused_in_production():
    from pydantic import ValidationError

    from services.kit.clock import SystemClock
    from services.registry.settings import RegistrySettings

    ahead = SystemClock(timedelta(days=10)).now() - datetime.now(UTC)
    assert timedelta(days=9, hours=23) < ahead < timedelta(days=10, hours=1)
    with pytest.raises(ValidationError, match="CLOCK_OFFSET_DAYS"):
        RegistrySettings(environment="production", jwt_secret="x" * 40, clock_offset_days=10)
