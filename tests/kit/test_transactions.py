"""One transaction per request, idempotent creates, and the audit trail."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from services.registry.models import kit_tables
from tests.conftest import auth, bind_app, client_for
from tests.kit.conftest import make_kit_app


async def _audit_rows(sessionmaker, entity_id: str) -> int:
    async with sessionmaker() as s:
        return (
            await s.execute(
                select(func.count())
                .select_from(kit_tables.audit)
                .where(kit_tables.audit.c.entity_id == entity_id)
            )
        ).scalar_one()


async def test_error_after_a_write_rolls_it_back(database_url, committed):
    app = bind_app(make_kit_app(database_url), committed)
    async with client_for(app) as client:
        refused = await client.post("/v1/kit/things-then-fail", json={"name": "gone", "size": 1})
        crashed = await client.post("/v1/kit/things-then-crash", json={"name": "gone2", "size": 1})
        ok = await client.post(
            "/v1/kit/things", json={"name": "kept", "size": 1}, headers=auth("regulator")
        )
    await app.state.db.dispose()
    assert (refused.status_code, crashed.status_code, ok.status_code) == (409, 500, 201)
    assert await _audit_rows(committed, "gone") == 0
    assert await _audit_rows(committed, "gone2") == 0
    assert await _audit_rows(committed, "kept") == 1


async def test_audit_row_records_who_and_request(kit_client, session):
    await kit_client.post(
        "/v1/kit/things",
        json={"name": "audited", "size": 2},
        headers={**auth("enterprise", "ORG9", "user-9"), "X-Request-ID": "req-42"},
    )
    row = (
        await session.execute(
            select(kit_tables.audit).where(kit_tables.audit.c.entity_id == "audited")
        )
    ).one()
    assert (row.sub, row.role, row.org, row.action, row.entity, row.request_id) == (
        "user-9",
        "enterprise",
        "ORG9",
        "create",
        "thing",
        "req-42",
    )


async def test_idempotent_replay_returns_first_result_once(kit_client, session):
    headers = {**auth("regulator", sub="reg"), "Idempotency-Key": "k-1"}
    first = await kit_client.post(
        "/v1/kit/things", json={"name": "idem", "size": 3}, headers=headers
    )
    # Same body, other whitespace and key order: still the same request.
    again = await kit_client.post(
        "/v1/kit/things",
        content=b'{ "size": 3,   "name": "idem" }',
        headers={**headers, "content-type": "application/json"},
    )
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() == {"name": "idem", "size": 3}
    assert again.headers["idempotent-replay"] == "true"
    assert "idempotent-replay" not in first.headers
    rows = (
        await session.execute(
            select(func.count())
            .select_from(kit_tables.audit)
            .where(kit_tables.audit.c.entity_id == "idem")
        )
    ).scalar_one()
    assert rows == 1


async def test_same_key_with_other_body_is_422(kit_client, session):
    headers = {**auth("regulator", sub="reg"), "Idempotency-Key": "k-2"}
    await kit_client.post("/v1/kit/things", json={"name": "one", "size": 1}, headers=headers)
    response = await kit_client.post(
        "/v1/kit/things", json={"name": "two", "size": 1}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    rows = (
        await session.execute(
            select(func.count())
            .select_from(kit_tables.audit)
            .where(kit_tables.audit.c.entity_id == "two")
        )
    ).scalar_one()
    assert rows == 0


async def test_keys_are_scoped_to_the_caller(kit_client):
    body = {"name": "scoped", "size": 1}
    a = await kit_client.post(
        "/v1/kit/things", json=body, headers={**auth("regulator", sub="a"), "Idempotency-Key": "k"}
    )
    b = await kit_client.post(
        "/v1/kit/things", json=body, headers={**auth("regulator", sub="b"), "Idempotency-Key": "k"}
    )
    assert a.status_code == b.status_code == 201
    assert "idempotent-replay" not in b.headers


async def test_concurrent_retries_with_one_key_create_once(database_url, committed):
    app = bind_app(make_kit_app(database_url), committed)
    headers = {**auth("regulator", sub="racer"), "Idempotency-Key": "race-1"}
    async with client_for(app) as client:
        responses = await asyncio.gather(
            *[
                client.post("/v1/kit/things", json={"name": "raced", "size": 5}, headers=headers)
                for _ in range(5)
            ]
        )
    await app.state.db.dispose()
    assert [r.status_code for r in responses] == [201] * 5
    assert all(r.json() == {"name": "raced", "size": 5} for r in responses)
    assert sum(r.headers.get("idempotent-replay") == "true" for r in responses) == 4
    assert await _audit_rows(committed, "raced") == 1


async def test_expired_idempotency_keys_are_purged(session):
    from sqlalchemy import text

    from services.kit.idempotency import purge_expired

    table = kit_tables.idempotency
    await session.execute(
        table.insert(),
        [
            {"scope": "s", "key": "old", "request_hash": "h"},
            {"scope": "s", "key": "new", "request_hash": "h"},
        ],
    )
    await session.execute(
        text(
            "UPDATE registry.idempotency_keys SET created_at = now() - interval '73 hours' "
            "WHERE key = 'old'"
        )
    )
    assert await purge_expired(session, kit_tables, ttl_hours=72) == 1
    keys = (await session.execute(select(table.c.key))).scalars().all()
    assert keys == ["new"]


async def test_metrics_show_outbox_backlog(database_url, committed):
    from services.kit.outbox import enqueue

    async with committed() as s, s.begin():
        await enqueue(s, kit_tables, target="ranking", path="/v1/x", payload={})
        await enqueue(s, kit_tables, target="ranking", path="/v1/y", payload={})
        await s.execute(
            kit_tables.outbox.update()
            .where(kit_tables.outbox.c.path == "/v1/y")
            .values(status="failed")
        )
    app = make_kit_app(database_url)
    async with client_for(app) as client:
        text_ = (await client.get("/metrics")).text
    await app.state.db.dispose()
    assert 'outbox_messages{service="registry",status="pending"} 1.0' in text_
    assert 'outbox_messages{service="registry",status="failed"} 1.0' in text_


async def test_an_exhausted_pool_is_a_503_with_retry_after(database_url):
    app = make_kit_app(database_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.3)
    async with app.state.db.engine.connect() as held:  # the only connection
        await held.exec_driver_sql("SELECT 1")
        async with client_for(app) as client:
            response = await client.post(
                "/v1/kit/things", json={"name": "busy", "size": 1}, headers=auth("regulator")
            )
    await app.state.db.dispose()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "busy"


def test_embedded_socket_uri_becomes_an_asyncpg_url():
    from services.kit.embedded import sqlalchemy_url

    assert (
        sqlalchemy_url("postgresql://postgres:@/postgres?host=/tmp/pgsock")
        == "postgresql+asyncpg://postgres@/postgres?host=/tmp/pgsock"
    )
