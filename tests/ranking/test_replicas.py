"""Background work with real commits: the registry change feed (dynamic adjustment, 动态调整)
resumed after a restart, and two replicas running every step at once, each item handled once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import func, select

from services.clients.oversight import OversightClient
from services.clients.registry import RegistryClient
from services.kit.clock import FixedClock
from services.ranking.app import create_app
from services.ranking.models import FeedCursor, TitleEvent
from services.ranking.settings import RankingSettings
from services.ranking.shortlists import service as shortlists
from services.ranking.titles import feed
from services.ranking.titles import service as titles
from services.registry.app import create_app as create_registry
from services.registry.settings import RegistrySettings
from tests.conftest import bind_app, client_for, service_settings, token
from tests.ranking.conftest import Oversight
from tests.ranking.title_flow import commit, disclosure, shortlist, succeeded_run, titled
from tests.registry.test_sync import push


class Cluster:
    def __init__(self, database_url: str, committed: Any) -> None:
        self.database_url = database_url
        self.committed = committed
        self.clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        self.oversight = Oversight()
        self.registry_app = bind_app(
            create_registry(service_settings(RegistrySettings, database_url)), committed
        )
        self.clients: list[Any] = []

    def replica(self) -> Any:
        """A ranking replica (a fresh process, as after a restart) on the same database."""
        registry = RegistryClient(
            "http://registry",
            token("service", sub="service:ranking"),
            transport=httpx.ASGITransport(app=self.registry_app, raise_app_exceptions=False),
        )
        over = OversightClient(
            "http://oversight",
            token("service", sub="service:ranking"),
            transport=httpx.MockTransport(self.oversight.handler),
            retries=0,
        )
        self.clients += [registry, over]
        app = create_app(
            service_settings(RankingSettings, self.database_url, background_enabled=False),
            registry=registry,
            oversight=over,
            clock=self.clock,
        )
        return bind_app(app, self.committed)


@pytest_asyncio.fixture(loop_scope="session")
async def cluster(database_url, committed) -> AsyncIterator[Cluster]:
    c = Cluster(database_url, committed)
    yield c
    for client in c.clients:
        await client.aclose()
    await c.registry_app.state.db.dispose()


async def drain(app: Any) -> int:
    total = 0
    while n := await feed.feed_step(app):
        total += n
    return total


async def drain_until(app: Any, want: int) -> int:
    """Drain until ``want`` changes were applied: the feed shows only finished transactions,
    and another test worker's open transaction may hold its horizon back for a moment."""
    total = 0
    for _ in range(150):
        total += await drain(app)
        if total >= want:
            break
        await asyncio.sleep(0.1)
    return total


async def events(committed: Any) -> int:
    async with committed() as s:
        return int((await s.execute(select(func.count()).select_from(TitleEvent))).scalar_one())


async def test_the_feed_suspends_titles_and_resumes_after_a_restart(cluster):
    one = cluster.replica()
    async with client_for(one) as api, client_for(cluster.registry_app) as registry_http:
        async with cluster.committed() as session:
            flow = await titled(api, one, session, registry_http)
        # Everything so far (enterprises and standards created), none about a titled standard.
        assert await drain_until(one, 6) >= 6
        base = await events(cluster.committed)
        a, b = flow["seeded"]["A"], flow["seeded"]["B"]

        await push(registry_http, [disclosure(a, status="abolished", reason="企业停产，标准废止")])
        # B's new version: still above the baseline (80), below its tier's floor (90).
        await push(registry_http, [disclosure(b, values=(88.0, 0.8))])
        assert await drain_until(one, 2) == 2
        ta = (await api.get(f"/v1/titles/{flow['titles']['A']['id']}")).json()
        assert ta["status"] == "suspended"
        assert "企业停产，标准废止" in ta["status_reason"]
        assert ta["pending_review"] is False
        tb = await api.get(f"/v1/titles/{flow['titles']['B']['id']}")
        assert tb.json()["status"] == "suspended"
        assert tb.json()["pending_review"] is True
        assert "out of tier" in tb.json()["status_reason"]
        assert await events(cluster.committed) == base + 2

        # A restart: a new replica reads the stored cursor and repeats nothing.
        two = cluster.replica()
        assert await drain(two) == 0
        assert await events(cluster.committed) == base + 2
        await push(registry_http, [disclosure(b, values=(75.0, 0.8))])
        assert await drain_until(two, 1) == 1
        async with cluster.committed() as s:
            cursor = await s.get(FeedCursor, feed.FEED)
        assert cursor is not None
        # B was already suspended: a further version changes nothing, but is not lost.
        assert await events(cluster.committed) == base + 2

        # The body reviews B: only its own body, with the title's current ETag.
        denied = await api.post(
            f"/v1/titles/{flow['titles']['B']['id']}/review",
            json={"action": "restore", "reason": "复核"},
            headers={**b["headers"], "If-Match": tb.headers["ETag"]},
        )
        assert denied.status_code == 403
        stale = await api.post(
            f"/v1/titles/{flow['titles']['B']['id']}/review",
            json={"action": "restore", "reason": "复核"},
            headers={**flow["own"], "If-Match": '"1"'},
        )
        assert stale.status_code == 412
        restored = await api.post(
            f"/v1/titles/{flow['titles']['B']['id']}/review",
            json={"action": "restore", "reason": "复核后检测报告确认热效率达标"},
            headers={**flow["own"], "If-Match": tb.headers["ETag"]},
        )
        assert restored.status_code == 200, restored.text
        assert restored.json()["status"] == "active"
        assert [h["source"] for h in restored.json()["history"]] == [
            "publicity",
            "registry",
            "review",
        ]


async def test_two_replicas_handle_each_item_once(cluster):
    one, two = cluster.replica(), cluster.replica()
    async with client_for(one) as api, client_for(cluster.registry_app) as registry_http:
        async with cluster.committed() as session:
            done = await titled(api, one, session, registry_http)
            # Three more shortlists of the same category, each left partly unanswered.
            flows = [await succeeded_run(api, one, session, registry_http) for _ in range(3)]
            for flow in flows:
                await shortlist(api, flow)
                assert (await commit(api, flow, "A")).status_code == 200

        cluster.clock.set(datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
        lapsed = await asyncio.gather(shortlists.lapse_step(one), shortlists.lapse_step(two))
        assert sum(lapsed) == 3
        assert await shortlists.lapse_step(one) == 0

        base = await events(cluster.committed)
        for s in done["seeded"].values():
            await push(registry_http, [disclosure(s, status="abolished", reason="废止")])
        for _ in range(150):
            await asyncio.gather(drain(one), drain(two))
            if await events(cluster.committed) >= base + 2:
                break
            await asyncio.sleep(0.1)
        await asyncio.gather(drain(one), drain(two))
        assert await events(cluster.committed) == base + 2

        cluster.clock.set(datetime(2027, 6, 2, 9, 0, tzinfo=UTC))
        expired = await asyncio.gather(titles.expire_step(one), titles.expire_step(two))
        assert sum(expired) == 2
        assert await events(cluster.committed) == base + 4
