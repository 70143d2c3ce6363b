"""The plan lifecycle over the API: every allowed and refused transition, by state and role."""

from __future__ import annotations

import uuid

from tests.conftest import auth
from tests.ranking.conftest import (
    REGULATOR,
    SERVICE,
    body_for,
    etag_of,
    experts,
    indicator,
    key_area,
    plan_body,
)
from tests.ranking.plan_flow import (
    activate,
    approve_by_experts,
    close_publicity,
    create,
    notice_of,
    outcome_of,
    submit,
)


async def test_only_an_approved_body_drafts_plans_in_its_areas(api):
    area, other_area = await key_area(api), await key_area(api)
    _, pending = await body_for(api, [area], approve=False)
    _, approved = await body_for(api, [other_area])
    body = plan_body(area)
    refused = await api.post("/v1/plans", json=body, headers=pending)
    assert (refused.status_code, refused.json()["code"]) == (403, "body_not_approved")
    refused = await api.post("/v1/plans", json=body, headers=approved)
    assert (refused.status_code, refused.json()["code"]) == (403, "key_area_not_assigned")
    for headers in (REGULATOR, auth("expert"), SERVICE):
        assert (await api.post("/v1/plans", json=body, headers=headers)).status_code == 403
    missing = await api.post("/v1/plans", json=plan_body(str(uuid.uuid4())), headers=approved)
    assert missing.json()["errors"][0]["field"] == "key_area_id"


async def test_bad_plans_are_refused_through_the_api_naming_the_field(api):
    area = await key_area(api)
    _, own = await body_for(api, [area])
    cases = [
        ({"indicators": []}, "indicators"),
        ({"indicators": [indicator(unit="kW")]}, "indicators[0].unit"),
        ({"selection": {"rule": "top_percent", "percent": 120}}, "selection.percent"),
        ({"cycle": {"valid_from": "2026-06-01", "valid_to": "2026-05-01"}}, "cycle.valid_to"),
    ]
    for over, field in cases:
        response = await api.post("/v1/plans", json=plan_body(area, **over), headers=own)
        assert response.status_code == 422, over
        assert field in [e["field"] for e in response.json()["errors"]]
    nan = await api.post(
        "/v1/plans",
        content=b'{"x": NaN}',
        headers={**own, "Content-Type": "application/json"},
    )
    assert nan.status_code == 422


async def test_the_whole_lifecycle_and_its_refusals(api, session):
    area = await key_area(api)
    body_id, own = await body_for(api, [area])
    created = await create(api, area, own)
    plan_id = created.json()["id"]
    url = f"/v1/plans/{plan_id}"
    assert created.json()["latest_state"] == "draft"
    assert created.json()["version"]["content"]["indicators"][1]["direction"] == "lower"

    # A draft is the body's own: hidden from the public and from other bodies.
    assert (await api.get(url)).status_code == 404
    _, stranger = await body_for(api, [area])
    assert (await api.get(url, headers=stranger)).status_code == 404
    edit = plan_body(name="电饭锅方案（修订）")
    hidden = await api.patch(url, json=edit, headers={**stranger, "If-Match": "*"})
    assert hidden.status_code == 404

    # Editing a draft needs If-Match and keeps the version number.
    assert (await api.patch(url, json=edit, headers=own)).status_code == 428
    assert (await api.patch(url, json=edit, headers={**own, "If-Match": '"99"'})).status_code == 412
    edited = await api.patch(url, json=edit, headers={**own, **etag_of(created)})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["latest_version"], edited.json()["version"]["content"]["name"]) == (
        1,
        "电饭锅方案（修订）",
    )
    # Review before submission is refused; submission freezes the version.
    early = (await experts(api, 1))[0]
    review = {"verdict": "approve", "comments": "好"}
    assert (await api.post(f"{url}/reviews", json=review, headers=early)).status_code == 404
    await submit(api, plan_id, own)
    frozen = await api.patch(url, json=plan_body(), headers={**own, "If-Match": "*"})
    assert (frozen.status_code, frozen.json()["code"]) == (409, "invalid_transition")
    again = await api.post(f"{url}/submission", headers={**own, "If-Match": "*"})
    assert again.status_code == 409
    assert (await api.get(url, headers=early)).status_code == 200  # experts see submitted plans

    # Reviews: an evaluator may not review; an expert only once; publicity after three.
    assert (await api.post(f"{url}/reviews", json=review, headers=own)).status_code == 403
    assert (await api.post(f"{url}/reviews", json=review, headers=early)).status_code == 201
    dup = await api.post(f"{url}/reviews", json=review, headers=early)
    assert (dup.status_code, dup.json()["code"]) == (409, "already_reviewed")
    await approve_by_experts(api, plan_id, 1)
    assert (await api.get(url, headers=own)).json()["latest_state"] == "submitted"
    await approve_by_experts(api, plan_id, 1)
    in_publicity = await api.get(url)
    assert in_publicity.status_code == 200  # public from publicity on
    assert in_publicity.json()["latest_state"] == "publicity"
    notice = await notice_of(session, plan_id)
    assert notice["path"] == "/v1/notices"
    assert notice["message_id"] == notice["source_id"]
    assert (notice["kind"], notice["window"]["working_days"]) == ("plan_publicity", 5)
    retire = {"action": "retire", "reason": "停止"}
    during = await api.post(f"{url}/decision", json=retire, headers={**own, "If-Match": "*"})
    assert during.status_code == 409
    activate_early = await api.post(
        f"{url}/decision", json={"action": "activate"}, headers={**own, "If-Match": "*"}
    )
    assert activate_early.status_code == 409

    # The publicity outcome: service role only, idempotent by notice id.
    outcome = outcome_of(notice)
    assert (await api.post("/v1/publicity-outcomes", json=outcome, headers=own)).status_code == 403
    unknown = await api.post(
        "/v1/publicity-outcomes", json={**outcome, "source_id": "nope"}, headers=SERVICE
    )
    assert unknown.status_code == 404
    first = await api.post("/v1/publicity-outcomes", json=outcome, headers=SERVICE)
    assert first.json()["state"] == "approved"
    repeat = await api.post("/v1/publicity-outcomes", json=outcome, headers=SERVICE)
    assert repeat.json() == first.json()
    other = await api.post(
        "/v1/publicity-outcomes", json=outcome_of(notice, upheld=True), headers=SERVICE
    )
    assert (other.status_code, other.json()["code"]) == (409, "outcome_conflict")

    # Activation by the body only.
    by_regulator = await api.post(
        f"{url}/decision", json={"action": "activate"}, headers={**REGULATOR, "If-Match": "*"}
    )
    assert by_regulator.status_code == 403
    active = await activate(api, plan_id, own)
    assert (active.json()["active_version"], active.json()["latest_state"]) == (1, "active")

    # A new version while v1 stays active; once approved and activated, v1 is superseded.
    v2 = await api.patch(url, json=plan_body(publicity_days=7), headers={**own, **etag_of(active)})
    assert (v2.json()["latest_version"], v2.json()["active_version"]) == (2, 1)
    await submit(api, plan_id, own)
    await approve_by_experts(api, plan_id)
    await close_publicity(api, session, plan_id)
    await activate(api, plan_id, own)
    v1 = (await api.get(f"{url}/versions/1")).json()
    assert v1["state"] == "superseded"
    assert v1["content"]["publicity_days"] == 5
    assert (await api.get(url)).json()["active_version"] == 2

    # Retirement by a regulator ends it; nothing moves afterwards.
    retired = await api.post(
        f"{url}/decision", json={"action": "retire"}, headers={**REGULATOR, "If-Match": "*"}
    )
    assert retired.status_code == 422  # a reason is required
    retired = await api.post(f"{url}/decision", json=retire, headers={**REGULATOR, "If-Match": "*"})
    assert retired.json()["latest_state"] == "retired"
    after = await api.patch(url, json=plan_body(), headers={**own, "If-Match": "*"})
    assert after.status_code == 409
    listed = await api.get("/v1/plans", params={"evaluator_id": body_id})
    assert [p["id"] for p in listed.json()["items"]] == [plan_id]


async def test_one_rejection_returns_the_plan_and_the_next_edit_is_a_new_version(api):
    area = await key_area(api)
    _, own = await body_for(api, [area])
    plan_id = (await create(api, area, own)).json()["id"]
    url = f"/v1/plans/{plan_id}"
    await submit(api, plan_id, own)
    await approve_by_experts(api, plan_id, 2)
    critic = (await experts(api, 1))[0]
    rejected = await api.post(
        f"{url}/reviews", json={"verdict": "reject", "comments": "基准值偏低"}, headers=critic
    )
    assert rejected.status_code == 201
    state = await api.get(url, headers=own)
    assert state.json()["latest_state"] == "rejected"
    resubmit = await api.post(f"{url}/submission", headers={**own, "If-Match": "*"})
    assert resubmit.status_code == 409
    edited = await api.patch(
        url,
        json=plan_body(indicators=[indicator(baseline=82), indicator("standby_power")]),
        headers={**own, **etag_of(state)},
    )
    assert (edited.json()["latest_version"], edited.json()["latest_state"]) == (2, "draft")
    v1 = await api.get(f"{url}/versions/1", headers=own)
    assert v1.json()["state"] == "rejected"
    assert v1.json()["reason"] == "基准值偏低"
    assert v1.json()["content"]["indicators"][0]["baseline"] == 80
    versions = await api.get(f"{url}/versions", headers=own)
    assert [v["n"] for v in versions.json()["items"]] == [1, 2]
    reviews = await api.get(f"{url}/reviews", headers=own)
    assert [r["verdict"] for r in reviews.json()["items"]] == ["approve", "approve", "reject"]


async def test_an_upheld_objection_returns_the_version(api, session):
    area = await key_area(api)
    _, own = await body_for(api, [area])
    plan_id = (await create(api, area, own)).json()["id"]
    await submit(api, plan_id, own)
    await approve_by_experts(api, plan_id)
    outcome = await close_publicity(api, session, plan_id, upheld=True)
    assert outcome.json()["state"] == "rejected"
    refused = await api.post(
        f"/v1/plans/{plan_id}/decision",
        json={"action": "activate"},
        headers={**own, "If-Match": "*"},
    )
    assert refused.status_code == 409


async def test_an_expert_of_the_body_may_not_review_its_plans(api):
    area = await key_area(api)
    body_id, own = await body_for(api, [area])
    plan_id = (await create(api, area, own)).json()["id"]
    await submit(api, plan_id, own)
    colleague = (await experts(api, 1, evaluator_id=body_id))[0]
    review = {"verdict": "approve", "comments": "同意"}
    refused = await api.post(f"/v1/plans/{plan_id}/reviews", json=review, headers=colleague)
    assert (refused.status_code, refused.json()["code"]) == (403, "conflict_of_interest")
    stranger = auth("expert", sub="expert:unregistered")
    refused = await api.post(f"/v1/plans/{plan_id}/reviews", json=review, headers=stranger)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_registered_expert")


async def test_another_body_may_not_touch_a_public_plan(api, session):
    area = await key_area(api)
    _, own = await body_for(api, [area])
    _, rival = await body_for(api, [area])
    plan_id = (await create(api, area, own)).json()["id"]
    await submit(api, plan_id, own)
    await approve_by_experts(api, plan_id)
    await close_publicity(api, session, plan_id)
    url = f"/v1/plans/{plan_id}"
    for method, path, body in (
        ("POST", f"{url}/decision", {"action": "activate"}),
        ("POST", f"{url}/decision", {"action": "retire", "reason": "x"}),
        ("PATCH", url, plan_body()),
        ("POST", f"{url}/submission", None),
    ):
        response = await api.request(method, path, json=body, headers={**rival, "If-Match": "*"})
        assert response.status_code == 403, (method, path)
    await activate(api, plan_id, own)
    drafts = await api.get(f"{url}/versions")
    assert [v["state"] for v in drafts.json()["items"]] == ["active"]
