"""Every wait in the database is bounded: a caller that would wait too long gets a 503 busy.

These use the service's own engine (not the test's), since the bounds are set on its
connections, and two real sessions contending on one row.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from services.kit.db import allow_long_statements
from services.kit.reads import Reader
from services.registry.app import create_app
from services.registry.models import Enterprise
from services.registry.settings import RegistrySettings
from tests.conftest import auth, client_for, service_settings
from tests.kit.conftest import make_kit_app
from tests.registry.conftest import make_uscc, register

# A hang shows up as this timeout rather than as a stuck suite.
HANG = 10


async def test_connections_carry_the_configured_bounds(database_url):
    app = make_kit_app(database_url)
    async with app.state.db.sessionmaker() as session, session.begin():
        shown = [
            (await session.execute(text(f"SHOW {name}"))).scalar_one()
            for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
        ]
        assert shown == ["5s", "30s", "1min"]
        await allow_long_statements(session, app.state.settings)
        assert (await session.execute(text("SHOW statement_timeout"))).scalar_one() == "5min"
    async with app.state.db.sessionmaker() as session:
        # SET LOCAL: the next transaction on the pooled connection is back to the default.
        assert (await session.execute(text("SHOW statement_timeout"))).scalar_one() == "30s"
    await app.state.db.dispose()


async def test_a_write_behind_a_held_row_lock_is_503_busy_not_a_hang(database_url, committed):
    app = create_app(service_settings(RegistrySettings, database_url, db_lock_timeout_seconds=0.5))
    uscc = make_uscc()
    async with client_for(app) as client:
        await register(client, uscc)
        tag = (await client.get(f"/v1/enterprises/{uscc}")).headers["etag"]
        patch = {
            "url": f"/v1/enterprises/{uscc}",
            "json": {"address": "天津市和平区新地址"},
            "headers": {**auth("regulator"), "If-Match": tag},
        }
        async with committed() as holder, holder.begin():
            # The other session: a stalled writer holding the enterprise's row.
            await holder.execute(
                select(Enterprise).where(Enterprise.uscc == uscc).with_for_update()
            )
            started = time.monotonic()
            waited = await asyncio.wait_for(client.patch(**patch), HANG)
            elapsed = time.monotonic() - started
        assert waited.status_code == 503, waited.text
        assert waited.headers["content-type"] == "application/problem+json"
        assert waited.headers["retry-after"] == "5"
        assert waited.json()["code"] == "busy"
        assert "lock" not in waited.text.lower()
        assert elapsed < 3
        # Once the holder is gone the same request goes through: nothing was left half done.
        retried = await asyncio.wait_for(client.patch(**patch), HANG)
        assert retried.status_code == 200, retried.text
    await app.state.db.dispose()


async def test_plain_reads_reuse_a_plan_and_value_dependent_ones_plan_each(database_url):
    app = make_kit_app(database_url, db_statement_timeout_seconds=0.3)
    plain = Reader(app.state.db)
    planned = plain.planning_each()
    show = "SELECT current_setting('plan_cache_mode') AS mode"
    assert (await plain.fetchrow(show))["mode"] == "auto"
    assert (await planned.fetchrow(show))["mode"] == "force_custom_plan"
    # The setting is the statement's own: the pooled connection is plain again afterwards,
    # outside any transaction, and after a failed planned read too.
    assert (await plain.fetchrow(show))["mode"] == "auto"
    with pytest.raises(DBAPIError):  # the timeout, which the app answers as 503 busy
        await planned.fetch("SELECT pg_sleep(5)")
    assert (await plain.fetchrow(show))["mode"] == "auto"
    await app.state.db.dispose()


@pytest.mark.parametrize("route", ["/v1/kit/slow", "/v1/kit/slow-read"])
async def test_a_statement_over_its_time_is_503_busy(database_url, route):
    app = make_kit_app(database_url, db_statement_timeout_seconds=0.3)
    async with client_for(app) as client:
        response = await asyncio.wait_for(client.get(f"{route}?seconds=5"), HANG)
        quick = await client.get(f"{route}?seconds=0")
    await app.state.db.dispose()
    assert response.status_code == 503
    assert response.json()["code"] == "busy"
    assert response.headers["retry-after"] == "5"
    assert quick.status_code == 200


async def test_a_transaction_left_idle_loses_its_locks(database_url, committed):
    app = make_kit_app(database_url, db_idle_in_transaction_timeout_seconds=0.5)
    uscc = make_uscc()
    registry = create_app(service_settings(RegistrySettings, database_url))
    async with client_for(registry) as client:
        await register(client, uscc)
    await registry.state.db.dispose()

    stalled = app.state.db.sessionmaker()
    await stalled.begin()
    await stalled.execute(select(Enterprise).where(Enterprise.uscc == uscc).with_for_update())
    await asyncio.sleep(1.5)  # a client that stopped sending, with the transaction open
    async with committed() as other, other.begin():
        await other.execute(text("SET LOCAL lock_timeout = '2s'"))
        row = await other.execute(
            select(Enterprise.uscc).where(Enterprise.uscc == uscc).with_for_update()
        )
        assert row.scalar_one() == uscc
    with pytest.raises(DBAPIError):
        await stalled.execute(text("SELECT 1"))
    await stalled.close()
    await app.state.db.dispose()
