"""The case workflow: every transition allowed and refused per role, deadlines in working days,
answers from the respondent, and what an upheld decision sets in motion."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from services.kit.workdays import WorkdayCalendar
from services.oversight.app import flag_overdue, report_closed_windows
from services.oversight.models import CaseEvent, kit_tables
from tests.conftest import auth
from tests.oversight.conftest import RANKING_SERVICE, REGULATOR, declared_standard, publicity_notice

BODY = "B-7"
EVALUATOR = auth("evaluator", org=BODY, sub="evaluator:b7")
PATH_TO = {
    "received": [],
    "accepted": ["accept"],
    "rejected": ["reject"],
    "investigating": ["accept", "investigate"],
    "decided": ["accept", "investigate", "decide"],
    "closed": ["accept", "investigate", "decide", "close"],
}
ACTIONS = {
    "accept": ("received", {}),
    "reject": ("received", {"reason": "不属于受理范围"}),
    "investigate": ("accepted", {}),
    "decide": ("investigating", {"outcome": "dismissed", "reason": "经查不实"}),
    "close": ("decided", {}),
    "assign": ("received", {"assignee_type": "regulator", "assignee": "regulator:wang"}),
}


async def open_case(client, registry, **over):
    standard = await declared_standard(registry)
    body = {
        "kind": "report",
        "target": {"type": "standard", "id": standard["id"]},
        "grounds": "non_conforming",
        "description": "实测值不达标。",
    }
    body.update(over)
    filed = (await client.post("/v1/complaints", json=body, headers=REGULATOR)).json()
    return filed["complaint"]["progress"]["case_id"], standard["uscc"]


async def move(client, case_id, action, headers=REGULATOR, **fields):
    etag = (await client.get(f"/v1/cases/{case_id}", headers=REGULATOR)).headers["ETag"]
    body = {"action": action, **ACTIONS.get(action, ("", {}))[1], **fields}
    return await client.post(
        f"/v1/cases/{case_id}/transitions", json=body, headers={**headers, "If-Match": etag}
    )


async def case_in(client, registry, state, assign_to_body=True):
    case_id, uscc = await open_case(client, registry)
    if assign_to_body:
        r = await move(client, case_id, "assign", assignee_type="evaluator", assignee=BODY)
        assert r.status_code == 200, r.text
    for action in PATH_TO[state]:
        r = await move(client, case_id, action)
        assert r.status_code == 200, r.text
    return case_id, uscc


def callers(uscc):
    return {
        "regulator": REGULATOR,
        "assigned evaluator": EVALUATOR,
        "other evaluator": auth("evaluator", org="B-9"),
        "respondent": auth("enterprise", org=uscc),
        "other enterprise": auth("enterprise", org="91120116MA0000000X"),
        "expert": auth("expert"),
        "service": auth("service"),
        "anonymous": {},
    }


# Who may take each action on a case in the state it starts from: 200, else the refusal.
EXPECTED = {
    "regulator": dict.fromkeys(ACTIONS, 200),
    "assigned evaluator": {
        "accept": 200,
        "reject": 200,
        "investigate": 200,
        "decide": 403,
        "close": 403,
        "assign": 403,
    },
    "other evaluator": dict.fromkeys(ACTIONS, 404),
    # The respondent sees an accepted case (and may not move it), not a received one.
    "respondent": {
        "accept": 404,
        "reject": 404,
        "investigate": 403,
        "decide": 403,
        "close": 403,
        "assign": 404,
    },
    "other enterprise": dict.fromkeys(ACTIONS, 404),
    "expert": dict.fromkeys(ACTIONS, 404),
    "service": dict.fromkeys(ACTIONS, 404),
    "anonymous": dict.fromkeys(ACTIONS, 401),
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("who", list(EXPECTED))
async def test_each_transition_per_role(client, registry, action, who):
    state = ACTIONS[action][0]
    case_id, uscc = await case_in(client, registry, state)
    r = await move(client, case_id, action, headers=callers(uscc)[who])
    assert r.status_code == EXPECTED[who][action], r.text
    after = (await client.get(f"/v1/cases/{case_id}", headers=REGULATOR)).json()
    if r.status_code == 200:
        assert after["state"] != state or action == "assign"
    else:
        assert after["state"] == state
        assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("received", "investigate"),
        ("received", "decide"),
        ("received", "close"),
        ("accepted", "accept"),
        ("accepted", "reject"),
        ("accepted", "decide"),
        ("investigating", "close"),
        ("decided", "decide"),
        ("rejected", "accept"),
        ("closed", "assign"),
        ("closed", "close"),
    ],
)
async def test_transitions_out_of_turn_are_conflicts(client, registry, state, action):
    case_id, _ = await case_in(client, registry, state, assign_to_body=False)
    r = await move(client, case_id, action)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "invalid_transition"


async def test_rejected_cases_close(client, registry):
    case_id, _ = await case_in(client, registry, "rejected", assign_to_body=False)
    assert (await move(client, case_id, "close")).json()["state"] == "closed"


async def test_stale_and_missing_if_match(client, registry):
    case_id, _ = await open_case(client, registry)
    etag = (await client.get(f"/v1/cases/{case_id}", headers=REGULATOR)).headers["ETag"]
    assert (await move(client, case_id, "accept")).status_code == 200
    url = f"/v1/cases/{case_id}/transitions"
    stale = await client.post(
        url, json={"action": "investigate"}, headers={**REGULATOR, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "stale_etag"
    missing = await client.post(url, json={"action": "investigate"}, headers=REGULATOR)
    assert missing.status_code == 428


async def test_reasons_and_outcomes_are_required(client, registry):
    case_id, _ = await open_case(client, registry)
    assert (await move(client, case_id, "reject", reason=None)).status_code == 422
    await move(client, case_id, "accept")
    await move(client, case_id, "investigate")
    assert (await move(client, case_id, "decide", outcome=None)).status_code == 422
    assert (await move(client, case_id, "decide", reason=None)).status_code == 422


async def test_deadlines_across_golden_week_and_a_make_up_day(client, registry, clock, app):
    clock.advance(timedelta(days=3))  # Thursday 30 April 2026
    case_id, _ = await open_case(client, registry)
    case = (await client.get(f"/v1/cases/{case_id}", headers=REGULATOR)).json()
    # 7 working days after 30 April: 6, 7, 8, Sat 9 (make-up day), 11, 12, 13 May.
    assert case["received_on"] == "2026-04-30"
    assert case["due_on"] == "2026-05-13"
    assert case["overdue"] is False

    clock.advance(timedelta(days=13))  # 13 May: the last day, still in time
    assert (await client.get("/v1/cases", params={"overdue": "true"}, headers=REGULATOR)).json()[
        "items"
    ] == []
    assert await flag_overdue(app) == 0
    clock.advance(timedelta(days=1))  # 14 May
    overdue = (await client.get("/v1/cases?overdue=true", headers=REGULATOR)).json()["items"]
    assert [c["id"] for c in overdue] == [case_id]
    assert overdue[0]["overdue"] is True
    assert await flag_overdue(app) == 1
    assert await flag_overdue(app) == 0  # once
    detail = (await client.get(f"/v1/cases/{case_id}", headers=REGULATOR)).json()
    assert [e["action"] for e in detail["history"]][-1] == "overdue"

    accepted = (await move(client, case_id, "accept")).json()
    calendar = WorkdayCalendar()
    due = date.fromisoformat(accepted["due_on"])
    assert calendar.workdays_between(date(2026, 5, 14), due) == 30
    assert calendar.is_workday(due)
    assert accepted["overdue"] is False


async def test_the_respondent_answers_accepted_cases_only(client, registry):
    case_id, uscc = await open_case(client, registry)
    respondent = auth("enterprise", org=uscc)
    answer = {"text": "我司产品经复检符合标准，附检测报告。"}
    url = f"/v1/cases/{case_id}/responses"
    assert (await client.post(url, json=answer, headers=respondent)).status_code == 404
    assert (await client.get("/v1/cases", headers=respondent)).json()["items"] == []
    await move(client, case_id, "accept")
    r = await client.post(url, json=answer, headers=respondent)
    assert r.status_code == 201, r.text
    listed = (await client.get("/v1/cases", headers=respondent)).json()["items"]
    assert [c["id"] for c in listed] == [case_id]
    detail = (await client.get(f"/v1/cases/{case_id}", headers=respondent)).json()
    assert detail["responses"][0]["text"] == answer["text"]
    assert all(e["actor_role"] is None for e in detail["history"])
    other = auth("enterprise", org="91120116MA0000000X")
    assert (await client.post(url, json=answer, headers=other)).status_code == 404
    assert (await client.post(url, json=answer, headers=REGULATOR)).status_code == 403


async def test_upheld_case_against_a_title_revokes_through_the_outbox(client, ranking, session):
    ranking.titles["T-1"] = {"id": "T-1", "uscc": "91120116MA0000009X", "status": "active"}
    body = {
        "kind": "report",
        "target": {"type": "title", "id": "T-1"},
        "grounds": "fraud",
        "description": "申报数据造假。",
    }
    case_id = (await client.post("/v1/complaints", json=body)).json()["complaint"]["progress"][
        "case_id"
    ]
    for action in ("accept", "investigate"):
        await move(client, case_id, action)
    decided = await move(client, case_id, "decide", outcome="upheld", reason="检测数据系伪造")
    assert decided.status_code == 200, decided.text

    outbox = (await session.execute(select(kit_tables.outbox))).all()
    assert [(m.target, m.path) for m in outbox] == [("ranking", "/v1/titles/T-1/revocation")]
    revocations = (await client.get("/v1/notices", params={"kind": "revocation"})).json()["items"]
    assert revocations[0]["subject"] == {"type": "title", "id": "T-1"}
    assert revocations[0]["payload"]["case_id"] == case_id
    assert outbox[0].message_id == revocations[0]["payload"]["decision_id"].replace("-", "")
    exclusions = (await client.get("/v1/exclusions")).json()["items"]
    assert [e["uscc"] for e in exclusions] == ["91120116MA0000009X"]
    assert exclusions[0]["ends_on"] == "2029-04-26"
    later = (await client.get("/v1/exclusions", params={"on": "2029-04-27"})).json()["items"]
    assert later == []


async def test_dismissed_case_sends_nothing(client, ranking, session):
    ranking.titles["T-2"] = {"id": "T-2", "uscc": "91120116MA0000009X", "status": "active"}
    body = {
        "kind": "report",
        "target": {"type": "title", "id": "T-2"},
        "grounds": "fraud",
        "description": "x",
    }
    case_id = (await client.post("/v1/complaints", json=body)).json()["complaint"]["progress"][
        "case_id"
    ]
    for action in ("accept", "investigate", "decide"):
        await move(client, case_id, action)
    assert (await session.execute(select(kit_tables.outbox))).all() == []
    assert (await client.get("/v1/exclusions")).json()["items"] == []


async def test_a_closed_window_reports_its_outcome_once_objections_are_decided(
    client, clock, app, session
):
    notice = (
        await client.post("/v1/notices", json=publicity_notice(), headers=RANKING_SERVICE)
    ).json()
    objection = {
        "kind": "objection",
        "target": {"type": "notice", "id": notice["id"]},
        "grounds": "invalid_standard",
        "description": "该企业标准已废止。",
    }
    case_id = (await client.post("/v1/complaints", json=objection)).json()["complaint"]["progress"][
        "case_id"
    ]
    clock.advance(timedelta(days=10))  # 7 May: the window closed on 6 May
    assert await report_closed_windows(app) == 0  # an objection is still open
    for action in ("accept", "investigate"):
        await move(client, case_id, action)
    await move(client, case_id, "decide", outcome="upheld", reason="标准已废止")
    assert await report_closed_windows(app) == 1
    assert await report_closed_windows(app) == 0
    [message] = (await session.execute(select(kit_tables.outbox))).all()
    assert message.path == "/v1/publicity-outcomes"
    assert message.payload["notice_id"] == notice["id"]
    assert message.payload["closed_on"] == "2026-05-06"
    assert [u["case_id"] for u in message.payload["upheld"]] == [case_id]
    events = (await session.execute(select(CaseEvent.action))).scalars().all()
    assert "decide" in events
