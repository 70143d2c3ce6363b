"""Titles: the public lookup ("is this a current forerunner") with ETag and 304, one title and
its history, revocation (the same delivery three times), expiry, and progress stats."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.kit.clock import FixedClock
from services.ranking.titles import service as titles
from tests.conftest import auth
from tests.ranking.conftest import REGULATOR, SERVICE
from tests.ranking.title_flow import titled

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OVERSIGHT = auth("service", sub="service:oversight")


@pytest.fixture
def clock(ranking_app):
    clock: FixedClock = ranking_app.state.clock
    yield clock
    clock.set(START)


async def test_is_this_a_current_forerunner(api, ranking_app, session, registry_http):
    flow = await titled(api, ranking_app, session, registry_http)
    a = flow["seeded"]["A"]
    title = flow["titles"]["A"]
    spellings = [
        a["standard_no"],
        a["standard_no"].lower().replace(" ", ""),
        "Ｑ／１２ＴＪ　" + a["standard_no"].split(" ")[1].replace("-", "－"),
    ]
    for spelling in spellings:
        page = await api.get("/v1/forerunners", params={"standard_no": spelling})
        assert page.status_code == 200, page.text
        assert [t["id"] for t in page.json()["items"]] == [title["id"]], spelling
    by_barcode = await api.get("/v1/forerunners", params={"barcode": a["barcode"]})
    assert [t["id"] for t in by_barcode.json()["items"]] == [title["id"]]
    both = await api.get(
        "/v1/forerunners", params={"uscc": a["uscc"].lower(), "standard_no": a["standard_no"]}
    )
    assert [t["id"] for t in both.json()["items"]] == [title["id"]]
    c = flow["seeded"]["C"]
    assert (await api.get("/v1/forerunners", params={"uscc": c["uscc"]})).json()["items"] == []
    bad = await api.get("/v1/forerunners", params={"standard_no": "不是标准号"})
    assert bad.status_code == 422

    listed = await api.get("/v1/forerunners", params={"key_area_id": flow["area"], "limit": 1})
    assert listed.headers["Cache-Control"].startswith("public")
    first = listed.json()
    assert len(first["items"]) == 1
    assert first["next_cursor"] is not None
    rest = await api.get(
        "/v1/forerunners",
        params={"key_area_id": flow["area"], "limit": 1, "cursor": first["next_cursor"]},
    )
    assert {first["items"][0]["id"], rest.json()["items"][0]["id"]} == {
        t["id"] for t in flow["titles"].values()
    }
    assert rest.json()["next_cursor"] is None
    etag = listed.headers["ETag"]
    again = await api.get(
        "/v1/forerunners",
        params={"key_area_id": flow["area"], "limit": 1},
        headers={"If-None-Match": etag},
    )
    assert again.status_code == 304
    assert again.content == b""

    one = await api.get(f"/v1/titles/{title['id']}")
    assert one.status_code == 200
    body = one.json()
    assert body["plan_id"] == flow["plan_id"]
    assert body["evaluator_id"] == flow["body"]
    assert [(h["status"], h["source"]) for h in body["history"]] == [("active", "publicity")]
    missing = await api.get("/v1/titles/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404


async def test_the_same_revocation_three_times_revokes_once(
    api, ranking_app, session, registry_http
):
    flow = await titled(api, ranking_app, session, registry_http)
    title_id = flow["titles"]["A"]["id"]
    decision = "5b1e0c4e-9d1f-4c55-9a35-1f0c6a2b7e01"
    body = {
        "decision_id": decision,
        "case_id": "0a3e6a4e-1111-4c55-9a35-1f0c6a2b7e02",
        "reason": "经调查，声明的热效率与抽检结果不符",
        "decided_at": "2026-03-10T02:00:00Z",
    }
    key = {"Idempotency-Key": decision.replace("-", "")}
    for _ in range(3):
        response = await api.post(
            f"/v1/titles/{title_id}/revocation", json=body, headers={**OVERSIGHT, **key}
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "revoked"
    # A redelivery with a fresh key (a replayed outbox row after its key expired) too.
    response = await api.post(f"/v1/titles/{title_id}/revocation", json=body, headers=OVERSIGHT)
    assert response.status_code == 200
    history = (await api.get(f"/v1/titles/{title_id}")).json()["history"]
    assert [(h["status"], h["source"], h["reference"]) for h in history] == [
        ("active", "publicity", history[0]["reference"]),
        ("revoked", "oversight", decision),
    ]
    other = {**body, "decision_id": "6c2f1d5f-0000-4000-8000-000000000003"}
    twice = await api.post(f"/v1/titles/{title_id}/revocation", json=other, headers=OVERSIGHT)
    assert twice.status_code == 409
    assert twice.json()["code"] == "already_revoked"
    by_regulator = await api.post(
        f"/v1/titles/{title_id}/revocation", json={"reason": "再次撤销"}, headers=REGULATOR
    )
    assert by_regulator.status_code == 409
    a = flow["seeded"]["A"]
    assert (await api.get("/v1/forerunners", params={"uscc": a["uscc"]})).json()["items"] == []
    gone = await api.get("/v1/forerunners", params={"uscc": a["uscc"], "status": "revoked"})
    assert [t["id"] for t in gone.json()["items"]] == [title_id]

    unknown = await api.post(
        "/v1/titles/00000000-0000-4000-8000-000000000000/revocation", json=body, headers=OVERSIGHT
    )
    assert unknown.status_code == 404
    b_title = flow["titles"]["B"]["id"]
    by_firm = await api.post(
        f"/v1/titles/{b_title}/revocation", json={"reason": "x"}, headers=a["headers"]
    )
    assert by_firm.status_code == 403
    no_decision = await api.post(
        f"/v1/titles/{b_title}/revocation", json={"reason": "x"}, headers=SERVICE
    )
    assert no_decision.status_code == 403
    regulator = await api.post(
        f"/v1/titles/{b_title}/revocation", json={"reason": "监管部门撤销"}, headers=REGULATOR
    )
    assert regulator.status_code == 200
    assert regulator.json()["history"][-1]["source"] == "regulator"
    # Revoked is final: the body's review cannot bring it back.
    review = await api.post(
        f"/v1/titles/{b_title}/review",
        json={"action": "restore", "reason": "复核通过"},
        headers={**flow["own"], "If-Match": regulator.headers["ETag"]},
    )
    assert review.status_code == 409
    assert review.json()["code"] == "not_pending_review"


async def test_titles_expire_at_the_end_of_the_cycle(
    api, ranking_app, session, registry_http, clock
):
    flow = await titled(api, ranking_app, session, registry_http)
    clock.set(datetime(2027, 5, 31, 12, 0, tzinfo=UTC))
    assert await titles.expire_step(ranking_app) == 0
    clock.set(datetime(2027, 5, 31, 16, 5, tzinfo=UTC))  # 1 June in Shanghai
    assert await titles.expire_step(ranking_app) == 2
    assert await titles.expire_step(ranking_app) == 0
    one = (await api.get(f"/v1/titles/{flow['titles']['A']['id']}")).json()
    assert one["status"] == "expired"
    assert one["history"][-1]["source"] == "cycle"
    assert one["status_reason"] == "the cycle ended on 2027-05-31"
    a = flow["seeded"]["A"]
    assert (await api.get("/v1/forerunners", params={"uscc": a["uscc"]})).json()["items"] == []


async def test_progress_against_targets(api, ranking_app, session, registry_http):
    refused = await api.put(
        "/v1/targets", json={"level": "municipal", "by": "2026-12-31", "count": 60}, headers=SERVICE
    )
    assert refused.status_code == 403
    for level, count in (("national", 130), ("municipal", 60)):
        response = await api.put(
            "/v1/targets",
            json={"level": level, "by": "2026-12-31", "count": count, "note": "行动计划"},
            headers=REGULATOR,
        )
        assert response.status_code == 200, response.text
    flow = await titled(api, ranking_app, session, registry_http)
    stats = (await api.get("/v1/stats", params={"year": 2026})).json()
    (group,) = [g for g in stats["forerunners"] if g["key_area_id"] == flow["area"]]
    assert (group["level"], group["granted"], group["active"]) == ("municipal", 2, 2)
    targets = {t["level"]: t for t in stats["targets"]}
    assert targets["national"]["target"] == 130
    assert targets["municipal"]["achieved"] >= 2
    assert targets["municipal"]["remaining"] == 60 - targets["municipal"]["achieved"]
    stages = stats["stages"]
    assert stages["runs_succeeded"] >= 1
    assert stages["shortlisted"] >= 2
    assert stages["committed"] >= 2
    assert stages["titled"] >= 2
    await api.post(
        f"/v1/titles/{flow['titles']['A']['id']}/revocation",
        json={"reason": "监管部门撤销"},
        headers=REGULATOR,
    )
    after = (await api.get("/v1/stats", params={"year": 2026})).json()
    (group,) = [g for g in after["forerunners"] if g["key_area_id"] == flow["area"]]
    assert (group["granted"], group["active"]) == (1, 1)
    assert after["stages"]["revoked"] == stages["revoked"] + 1


async def test_the_barcode_index_keeps_no_pending_list(session):
    # With GIN's fastupdate, titles granted in bulk wait in a pending list that every barcode
    # lookup scans in full (5 ms instead of 0.1 ms at 100,000 titles): ranking_0004 turns it off.
    options = await session.scalar(
        text("SELECT reloptions FROM pg_class WHERE oid = 'ranking.ix_titles_barcodes'::regclass")
    )
    assert "fastupdate=off" in options


@contextlib.contextmanager
def routes_gone(app: FastAPI) -> Iterator[None]:
    """The app without its routes: what is still answered is answered before routing."""
    routes = app.router.routes
    app.router.routes = []
    try:
        yield
    finally:
        app.router.routes = routes


async def test_a_revocation_is_seen_at_once_by_a_lookup_kept_in_memory(
    api, ranking_app, session, registry_http
):
    flow = await titled(api, ranking_app, session, registry_http)
    cache = ranking_app.state.db.read_cache
    cache.listening = True  # as with a live listener (kit.fresh); this app runs no lifespan
    try:
        a = flow["seeded"]["A"]
        first = await api.get("/v1/forerunners", params={"uscc": a["uscc"]})
        assert [t["id"] for t in first.json()["items"]] == [flow["titles"]["A"]["id"]]
        hits = cache.hits
        again = await api.get(
            "/v1/forerunners",
            params={"uscc": a["uscc"]},
            headers={"If-None-Match": first.headers["ETag"]},
        )
        assert again.status_code == 304
        assert again.headers["ETag"] == first.headers["ETag"]
        assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
        assert again.headers["X-Request-ID"]
        assert cache.hits == hits + 1, "the same question is answered from memory"
        # Now answered before routing: with the routes gone, the same URL still gets its
        # 304, or its whole answer, exactly as the route gave it.
        with routes_gone(ranking_app):
            edge = await api.get(
                "/v1/forerunners",
                params={"uscc": a["uscc"]},
                headers={"If-None-Match": first.headers["ETag"]},
            )
            assert edge.status_code == 304
            whole = await api.get("/v1/forerunners", params={"uscc": a["uscc"]})
            assert whole.status_code == 200
            assert whole.content == first.content
            for header in ("content-type", "content-length", "etag", "cache-control", "vary"):
                assert whole.headers[header] == first.headers[header], header
            assert whole.headers["X-Request-ID"] != first.headers["X-Request-ID"]
            other = await api.get(
                "/v1/forerunners",
                params={"uscc": a["uscc"], "limit": 5},
                headers={"If-None-Match": first.headers["ETag"]},
            )
            assert other.status_code == 404, "another URL is another answer"
        # A caller with credentials goes through the route; the answer is the same.
        with_token = await api.get(
            "/v1/forerunners",
            params={"uscc": a["uscc"]},
            headers={"If-None-Match": first.headers["ETag"], **REGULATOR},
        )
        assert with_token.status_code == 304
        metrics = (await api.get("/metrics")).text
        assert f'read_cache_lookups_total{{outcome="hit",service="ranking"}} {cache.hits}.0' in (
            metrics
        )
        assert 'read_cache_listening{service="ranking"} 1.0' in metrics
        revoked = await api.post(
            f"/v1/titles/{flow['titles']['A']['id']}/revocation",
            json={"reason": "监管部门撤销"},
            headers=REGULATOR,
        )
        assert revoked.status_code == 200, revoked.text
        # Forgotten by the revocation, the answer is read again by the route's own read,
        # still before routing (the routes are gone): the revoked title is no longer in it.
        with routes_gone(ranking_app):
            after = await api.get(
                "/v1/forerunners",
                params={"uscc": a["uscc"]},
                headers={"If-None-Match": first.headers["ETag"]},
            )
        assert after.status_code == 200
        assert after.json()["items"] == []
        assert after.headers["ETag"] != first.headers["ETag"]
        routed = await api.get("/v1/forerunners", params={"uscc": a["uscc"]}, headers=REGULATOR)
        assert routed.content == after.content, "the same answer as the route's"
        # A lookup that failed validation keeps nothing and answers the same way twice.
        for _ in range(2):
            bad = await api.get("/v1/forerunners", params={"standard_no": "不是标准号"})
            assert bad.status_code == 422
    finally:
        cache.listening = False
        cache.changed()


async def test_lookups_asked_together_are_read_together_and_answer_as_one_by_one(
    api, ranking_app, session, registry_http
):
    flow = await titled(api, ranking_app, session, registry_http)
    a, b, c = (flow["seeded"][label] for label in "ABC")
    number = a["standard_no"].split(" ")[1]
    asks = [
        {"uscc": a["uscc"]},
        {"uscc": b["uscc"].lower()},
        {"uscc": c["uscc"]},  # no title: an empty page
        {"uscc": a["uscc"], "limit": 1},
        {"uscc": a["uscc"], "status": "revoked"},
        {"standard_no": a["standard_no"]},
        {"standard_no": "Ｑ／１２ＴＪ　" + number.replace("-", "－")},
        {"standard_no": b["standard_no"].lower()},
        {"standard_no": "不是标准号"},  # a 422, and only for its caller
        {"barcode": a["barcode"]},
        {"barcode": b["barcode"]},
        {"barcode": c["barcode"]},
    ]
    one_by_one = [await api.get("/v1/forerunners", params=ask) for ask in asks]
    batches = ranking_app.state.db.batches
    before = batches.statements
    together = await asyncio.gather(*(api.get("/v1/forerunners", params=ask) for ask in asks))
    assert [(r.status_code, r.content) for r in together] == [
        (r.status_code, r.content) for r in one_by_one
    ]
    assert [t["id"] for t in together[1].json()["items"]] == [flow["titles"]["B"]["id"]]
    assert together[2].json() == {"items": [], "next_cursor": None}
    assert [t["id"] for t in together[6].json()["items"]] == [flow["titles"]["A"]["id"]]
    assert together[8].status_code == 422
    assert [t["id"] for t in together[10].json()["items"]] == [flow["titles"]["B"]["id"]]
    # Eleven lookups of five shapes (uscc by page size and status, standard_no, barcode):
    # read by fewer statements than lookups.
    assert 5 <= batches.statements - before < 11
    assert together[4].json()["items"] == [], "no title of A is revoked"
    # A lookup with another filter takes the plain statement, and reads the same titles.
    for i in (0, 1, 2, 5, 6, 7, 9, 10, 11):
        plain = await api.get("/v1/forerunners", params={**asks[i], "year": 2026})
        assert plain.content == one_by_one[i].content, asks[i]
