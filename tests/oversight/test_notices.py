"""The notice board over HTTP: who posts, windows in working days, append-only, the chain."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.kit.clock import FixedClock
from services.oversight import verify
from services.oversight.app import create_app
from services.oversight.notices.signing import public_key_from_b64
from tests.conftest import auth, bind_app, client_for
from tests.oversight.conftest import (
    RANKING_SERVICE,
    REGULATOR,
    START,
    oversight_settings,
    publicity_notice,
)


async def post(client, body, headers=RANKING_SERVICE, **kw):
    return await client.post("/v1/notices", json=body, headers={**headers, **kw})


async def test_ranking_posts_publicity_with_its_window_in_working_days(client):
    r = await post(client, publicity_notice())
    assert r.status_code == 201, r.text
    notice = r.json()
    # Mon 27 April + 5 working days: 27–30 April, then Golden Week (1–5 May) is skipped.
    assert notice["window"] == {"opens": "2026-04-27", "closes": "2026-05-06", "working_days": 5}
    assert notice["posted_by"] == "service:ranking"
    assert r.headers["Location"] == f"/v1/notices/{notice['id']}"
    got = await client.get(f"/v1/notices/{notice['id']}")
    assert got.json() == notice


async def test_a_window_posted_in_golden_week_opens_on_the_next_working_day(client, clock):
    clock.set(START + timedelta(days=5))  # Saturday 2 May, a holiday
    r = await post(client, publicity_notice(window={"working_days": 4}))
    # 6, 7, 8 May, then Saturday 9 May is a make-up working day (调休).
    assert r.json()["window"] == {"opens": "2026-05-06", "closes": "2026-05-09", "working_days": 4}


async def test_who_may_post_which_kind(client):
    revocation = {"kind": "revocation", "title": "撤销公告", "body": "撤销。"}
    assert (await post(client, revocation)).status_code == 403
    assert (await post(client, revocation, REGULATOR)).status_code == 201
    assert (await post(client, publicity_notice(), auth("enterprise", org="X"))).status_code == 403
    assert (await post(client, publicity_notice(), auth("evaluator", org="B1"))).status_code == 403
    assert (await client.post("/v1/notices", json=publicity_notice())).status_code == 401


async def test_kind_rules_are_validated(client):
    no_window = publicity_notice(window=None)
    assert (await post(client, no_window)).status_code == 422
    stray_window = {
        "kind": "forerunner_list",
        "title": "名单",
        "body": "名单。",
        "window": {"working_days": 3},
    }
    assert (await post(client, stray_window)).status_code == 422
    floats = publicity_notice(payload={"score": 0.5})
    r = await post(client, floats)
    assert r.status_code == 422
    assert "integers" in r.text
    orphan = {
        "kind": "correction",
        "title": "更正",
        "body": "更正。",
        "corrects": str(uuid.uuid4()),
    }
    r = await post(client, orphan)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "corrects"


async def test_a_correction_points_at_the_notice_it_corrects(client):
    first = (await post(client, publicity_notice())).json()
    fix = {"kind": "correction", "title": "更正公告", "body": "名单有误。", "corrects": first["id"]}
    r = await post(client, fix)
    assert r.status_code == 201
    assert r.json()["corrects"] == first["id"]
    assert r.json()["prev_hash"] == first["hash"]


async def test_nothing_is_edited_or_deleted(client):
    notice = (await post(client, publicity_notice())).json()
    for method in ("PUT", "PATCH", "DELETE"):
        r = await client.request(method, f"/v1/notices/{notice['id']}", headers=REGULATOR, json={})
        assert r.status_code == 405, method
        assert r.json()["code"] == "method_not_allowed"


async def test_a_retry_with_the_same_key_posts_once(client):
    key = {"Idempotency-Key": "msg-42"}
    a = await post(client, publicity_notice(), **key)
    b = await post(client, publicity_notice(), **key)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    page = (await client.get("/v1/notices")).json()
    assert [n["id"] for n in page["items"]] == [a.json()["id"]]
    other = await post(client, publicity_notice(title="另一个"), **key)
    assert other.status_code == 422


async def test_the_database_refuses_changes_to_a_notice(client, session):
    notice = (await post(client, publicity_notice())).json()
    for statement in ("UPDATE oversight.notices SET title = 'x'", "DELETE FROM oversight.notices"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with session.begin_nested():
                await session.execute(text(f"{statement} WHERE id = :id"), {"id": notice["id"]})


async def test_chain_pages_and_a_signed_head_verify(client):
    ids = [(await post(client, publicity_notice(title=f"公示{i}"))).json()["id"] for i in range(5)]
    page = (await client.get("/v1/notices/chain", params={"after": 0, "limit": 2})).json()
    assert [e["seq"] for e in page["items"]] == [1, 2]
    assert page["next_after"] == 2
    head = (await client.get("/v1/notices/chain/head")).json()
    assert head["seq"] == 5
    key = (await client.get("/v1/notices/chain/public-key")).json()
    report = await verify.verify(client, public_key_from_b64(key["public_key"]), strict=True)
    assert report.ok, report.failure
    assert report.entries == 5
    assert (
        ids[-1] == (await client.get("/v1/notices", params={"limit": 1})).json()["items"][0]["id"]
    )


async def test_a_head_signed_by_another_key_is_refused(client, database_url, sessionmaker):
    await post(client, publicity_notice())
    other = create_app(oversight_settings(database_url), clock=FixedClock(START))
    bind_app(other, sessionmaker)
    async with client_for(other) as stranger:
        stranger_key = (await stranger.get("/v1/notices/chain/public-key")).json()["public_key"]
    report = await verify.verify(client, public_key_from_b64(stranger_key))
    assert not report.ok
    assert report.failure is not None
    assert "signature" in report.failure.reason


async def test_twenty_concurrent_appends_make_one_valid_chain(database_url, committed):
    app = create_app(oversight_settings(database_url), clock=FixedClock(START))
    bind_app(app, committed)
    async with client_for(app) as c:
        results = await asyncio.gather(
            *(post(c, publicity_notice(title=f"并发{i}")) for i in range(20))
        )
        assert [r.status_code for r in results] == [201] * 20
        report = await verify.verify(c, strict=True)
        assert report.ok, report.failure
        assert report.entries == 20
        seqs = sorted(r.json()["seq"] for r in results)
        assert seqs == list(range(1, 21))
    await app.state.db.dispose()


async def test_verify_reports_the_row_changed_in_sql(database_url, committed, engine):
    app = create_app(oversight_settings(database_url), clock=FixedClock(START))
    bind_app(app, committed)
    async with client_for(app) as c:
        for i in range(6):
            await post(c, publicity_notice(title=f"公示{i}"))
        assert (await verify.verify(c)).ok
        async with engine.begin() as conn:
            # What someone with database access could do: step around the trigger.
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text("UPDATE oversight.notices SET body = '改' WHERE seq = 4"))
        report = await verify.verify(c)
        assert report.failure is not None
        assert report.failure.seq == 4
        assert report.entries == 3
    await app.state.db.dispose()


async def test_unknown_notice_is_404(client: httpx.AsyncClient):
    r = await client.get(f"/v1/notices/{uuid.uuid4()}")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
