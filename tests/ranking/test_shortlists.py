"""Shortlist, commitments and opt-outs by a working-day deadline, the shortlist publicity and
its outcome, with the live registry app (oversight's side is the outcome it posts)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from services.kit.clock import FixedClock
from services.kit.workdays import WorkdayCalendar
from services.ranking.models import ShortlistEntry
from services.ranking.shortlists import service
from tests.ranking.conftest import REGULATOR, SERVICE, body_for
from tests.ranking.title_flow import (
    commit,
    outcome,
    shortlist,
    shortlist_notice,
    succeeded_run,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(ranking_app):
    clock: FixedClock = ranking_app.state.clock
    yield clock
    clock.set(START)


async def test_shortlist_commitment_publicity_and_titles(api, ranking_app, session, registry_http):
    flow = await succeeded_run(api, ranking_app, session, registry_http)
    seeded, own = flow["seeded"], flow["own"]
    out = await shortlist(api, flow)
    assert {e["uscc"] for e in out["entries"]} == {seeded["A"]["uscc"], seeded["B"]["uscc"]}
    assert out["state"] == "answering"
    # Monday 2 March 2026 + 5 working days.
    assert out["deadline"] == "2026-03-09"
    assert all(e["state"] == "pending" and e["standard_version"] == 1 for e in out["entries"])

    again = await api.post(f"/v1/runs/{flow['run']['id']}/shortlist", headers=own)
    assert again.status_code == 409
    assert again.json()["code"] == "already_shortlisted"
    _, other_body = await body_for(api, [flow["area"]])
    foreign = await api.post(f"/v1/runs/{flow['run']['id']}/shortlist", headers=other_body)
    assert foreign.status_code == 403

    a, b, c = seeded["A"], seeded["B"], seeded["C"]
    mine = await api.get("/v1/shortlist-entries", headers=a["headers"])
    assert [e["uscc"] for e in mine.json()["items"]] == [a["uscc"]]
    peek = await api.get("/v1/shortlist-entries", params={"uscc": b["uscc"]}, headers=a["headers"])
    assert peek.status_code == 403
    anyone = await api.get("/v1/shortlist-entries", params={"uscc": b["uscc"]}, headers=REGULATOR)
    assert len(anyone.json()["items"]) == 1

    entry_a = flow["entries"][a["uscc"]]
    body = {"text": "承诺", "agreed": True}
    by_other = await api.post(
        f"/v1/shortlist-entries/{entry_a['id']}/commitment", json=body, headers=c["headers"]
    )
    assert by_other.status_code == 404
    by_body = await api.post(
        f"/v1/shortlist-entries/{entry_a['id']}/commitment", json=body, headers=own
    )
    assert by_body.status_code == 403
    assert by_body.json()["code"] == "not_your_entry"
    not_agreed = await api.post(
        f"/v1/shortlist-entries/{entry_a['id']}/commitment",
        json={"text": "承诺", "agreed": False},
        headers=a["headers"],
    )
    assert not_agreed.status_code == 422

    committed = await commit(api, flow, "A")
    assert committed.status_code == 200
    assert committed.json()["state"] == "committed"
    twice = await commit(api, flow, "A")
    assert twice.status_code == 409
    assert twice.json()["code"] == "already_answered"
    entry_b = flow["entries"][b["uscc"]]
    opted = await api.post(
        f"/v1/shortlist-entries/{entry_b['id']}/opt-out",
        json={"reason": "产品停产"},
        headers=b["headers"],
    )
    assert opted.status_code == 200
    assert opted.json()["opt_out_reason"] == "产品停产"

    # Nothing pending: the committed entry alone goes to the notice board.
    notice = await shortlist_notice(session, out["id"])
    assert notice["kind"] == "shortlist_publicity"
    assert notice["window"] == {"working_days": 5}
    listed = notice["payload"]["entries"]
    assert [e["uscc"] for e in listed] == [a["uscc"]]
    assert all(isinstance(v, str | int) for e in listed for v in e.values())
    assert notice["message_id"] == notice["payload"]["source_id"]

    stray = {**outcome(notice), "source_id": "f" * 32}
    assert (
        await api.post("/v1/publicity-outcomes", json=stray, headers=SERVICE)
    ).status_code == 404
    by_firm = await api.post("/v1/publicity-outcomes", json=outcome(notice), headers=a["headers"])
    assert by_firm.status_code == 403
    for _ in range(2):
        reported = await api.post("/v1/publicity-outcomes", json=outcome(notice), headers=SERVICE)
        assert reported.status_code == 200, reported.text
        assert reported.json()["kind"] == "shortlist"
        assert reported.json()["titles_granted"] == 1
    different = outcome(notice, [{"case_id": "c-9", "uscc": a["uscc"], "reason": "数据不实"}])
    conflict = await api.post("/v1/publicity-outcomes", json=different, headers=SERVICE)
    assert conflict.status_code == 409

    page = (await api.get("/v1/forerunners", params={"uscc": a["uscc"]})).json()
    (title,) = page["items"]
    assert title["standard_id"] == a["id"]
    assert title["status"] == "active"
    assert title["valid_from"] == "2026-06-01"
    assert title["valid_until"] == "2027-05-31"
    assert title["barcodes"] == [a["barcode"]]
    assert title["level"] == "municipal"
    assert (await api.get("/v1/forerunners", params={"uscc": b["uscc"]})).json()["items"] == []
    plan = await api.get(f"/v1/plans/{flow['plan_id']}")
    assert plan.json()["evaluator_id"] == flow["body"]


async def test_an_upheld_objection_keeps_the_title_from_its_entry(
    api, ranking_app, session, registry_http
):
    flow = await succeeded_run(api, ranking_app, session, registry_http)
    await shortlist(api, flow)
    for label in ("A", "B"):
        assert (await commit(api, flow, label)).status_code == 200
    b = flow["seeded"]["B"]
    notice = await shortlist_notice(session, flow["shortlist"]["id"])
    upheld = [{"case_id": "c-1", "standard_id": b["id"], "reason": "指标与检测报告不符"}]
    reported = await api.post(
        "/v1/publicity-outcomes", json=outcome(notice, upheld), headers=SERVICE
    )
    assert reported.json()["titles_granted"] == 1
    entries = await api.get("/v1/shortlist-entries", headers=b["headers"])
    (entry,) = entries.json()["items"]
    assert entry["state"] == "rejected"
    assert "c-1" in entry["outcome_reason"]
    assert (await api.get("/v1/forerunners", params={"uscc": b["uscc"]})).json()["items"] == []


async def test_a_run_not_succeeded_has_no_shortlist(api, ranking_app, session, registry_http):
    flow = await succeeded_run(api, ranking_app, session, registry_http)
    queued = await api.post(f"/v1/plans/{flow['plan_id']}/runs", headers=flow["own"])
    refused = await api.post(f"/v1/runs/{queued.json()['id']}/shortlist", headers=flow["own"])
    assert refused.status_code == 409
    assert refused.json()["code"] == "run_not_succeeded"
    unknown = await api.post(
        "/v1/runs/00000000-0000-4000-8000-000000000000/shortlist", headers=flow["own"]
    )
    assert unknown.status_code == 404


def test_deadlines_count_working_days_across_golden_week():
    calendar = WorkdayCalendar()
    # Wednesday 29 April 2026 + 5 working days: 30 April, then 1-5 May off, 6, 7, 8 May and
    # Saturday 9 May, the make-up workday (调休).
    assert calendar.add_workdays(date(2026, 4, 29), 5) == date(2026, 5, 9)


async def test_answers_close_at_the_deadline_across_golden_week(
    api, ranking_app, session, registry_http, clock
):
    clock.set(datetime(2026, 4, 29, 2, 0, tzinfo=UTC))
    flow = await succeeded_run(api, ranking_app, session, registry_http)
    out = await shortlist(api, flow)
    assert out["deadline"] == "2026-05-09"
    # Late on the make-up Saturday, Shanghai time: still in time.
    clock.set(datetime(2026, 5, 9, 15, 30, tzinfo=UTC))
    assert (await commit(api, flow, "A")).status_code == 200
    # Sunday 10 May in Shanghai (16:30 UTC on the 9th): past the deadline.
    clock.set(datetime(2026, 5, 9, 16, 30, tzinfo=UTC))
    late = await commit(api, flow, "B")
    assert late.status_code == 409
    assert late.json()["code"] == "deadline_passed"
    assert late.json()["deadline"] == "2026-05-09"

    assert await service.lapse_step(ranking_app) == 1
    assert await service.lapse_step(ranking_app) == 0
    b_uscc = flow["seeded"]["B"]["uscc"]
    entries = (await session.execute(select(ShortlistEntry))).scalars().all()
    lapsed = [e for e in entries if e.uscc == b_uscc]
    assert [e.state for e in lapsed] == ["lapsed"]
    still_late = await commit(api, flow, "B")
    assert still_late.status_code == 409
    assert still_late.json()["deadline"] == "2026-05-09"
    notice = await shortlist_notice(session, out["id"])
    assert [e["uscc"] for e in notice["payload"]["entries"]] == [flow["seeded"]["A"]["uscc"]]


async def test_a_shortlist_nobody_commits_to_closes_without_publicity(
    api, ranking_app, session, registry_http, clock
):
    flow = await succeeded_run(api, ranking_app, session, registry_http)
    out = await shortlist(api, flow)
    clock.set(datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
    assert await service.lapse_step(ranking_app) == 1
    entries = await api.get(
        "/v1/shortlist-entries", params={"uscc": flow["seeded"]["A"]["uscc"]}, headers=REGULATOR
    )
    assert entries.json()["items"][0]["state"] == "lapsed"
    with pytest.raises(AssertionError):
        await shortlist_notice(session, out["id"])
