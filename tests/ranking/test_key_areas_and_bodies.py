"""Key areas checked against the live registry catalogue; bodies, approval, experts."""

from __future__ import annotations

import uuid

from tests.conftest import auth
from tests.ranking.conftest import REGULATOR, body_for, key_area, make_uscc


async def test_a_regulator_names_a_key_area_and_anyone_reads_it(api):
    area = await key_area(api, ["HA-RICE-COOKER", "HA-WASHING-MACHINE"])
    got = await api.get(f"/v1/key-areas/{area}")
    assert got.status_code == 200
    assert got.json()["categories"] == ["HA-RICE-COOKER", "HA-WASHING-MACHINE"]
    listed = await api.get("/v1/key-areas", params={"category": "HA-WASHING-MACHINE"})
    assert area in [a["id"] for a in listed.json()["items"]]
    other = await api.get("/v1/key-areas", params={"year": 2031})
    assert other.json()["items"] == []


async def test_an_unknown_category_is_refused_by_name(api):
    response = await api.post(
        "/v1/key-areas",
        json={
            "year": 2026,
            "level": "national",
            "name": "虚构领域",
            "categories": ["HA-RICE-COOKER", "NO-SUCH-THING"],
        },
        headers=REGULATOR,
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "unknown_category"
    assert problem["errors"] == [
        {"field": "categories[1]", "message": "unknown category NO-SUCH-THING"}
    ]


async def test_only_regulators_write_key_areas(api):
    body = {"year": 2026, "level": "national", "name": "x", "categories": ["HA-RICE-COOKER"]}
    for role, org in (("evaluator", str(uuid.uuid4())), ("expert", None), ("service", None)):
        response = await api.post("/v1/key-areas", json=body, headers=auth(role, org=org))
        assert response.status_code == 403, role
    assert (await api.post("/v1/key-areas", json=body)).status_code == 401


async def test_key_area_update_needs_if_match_and_checks_categories(api):
    area = await key_area(api)
    url = f"/v1/key-areas/{area}"
    change = {"categories": ["HA-REFRIGERATOR"]}
    assert (await api.patch(url, json=change, headers=REGULATOR)).status_code == 428
    stale = await api.patch(url, json=change, headers={**REGULATOR, "If-Match": '"9"'})
    assert stale.status_code == 412
    current = (await api.get(url)).headers["ETag"]
    bad = await api.patch(
        url, json={"categories": ["NOPE"]}, headers={**REGULATOR, "If-Match": current}
    )
    assert bad.status_code == 422
    ok = await api.patch(url, json=change, headers={**REGULATOR, "If-Match": current})
    assert ok.status_code == 200, ok.text
    assert ok.json()["categories"] == ["HA-REFRIGERATOR"]
    assert ok.headers["ETag"] != current


async def test_a_body_applies_and_a_regulator_decides(api):
    area = await key_area(api)
    body_id, own = await body_for(api, [area], approve=False)
    public = (await api.get(f"/v1/evaluators/{body_id}")).json()
    assert public["status"] == "pending"
    assert public["contact"] is None
    assert (await api.get(f"/v1/evaluators/{body_id}", headers=own)).json()["contact"]

    url = f"/v1/evaluators/{body_id}/approval"
    assert (await api.post(url, json={"decision": "approved"}, headers=own)).status_code == 403
    no_reason = await api.post(url, json={"decision": "rejected"}, headers=REGULATOR)
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "reason"
    unknown = await api.post(
        url, json={"decision": "approved", "key_areas": [str(uuid.uuid4())]}, headers=REGULATOR
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "key_areas[0]"
    approved = await api.post(url, json={"decision": "approved"}, headers=REGULATOR)
    assert approved.json()["status"] == "approved"
    assert approved.json()["key_areas"] == [area]


async def test_an_application_needs_a_valid_uscc_and_known_areas(api):
    area = await key_area(api)
    body = {
        "name": "某评估机构",
        "uscc": "91120116MA05JXXX0X",
        "contact": {"person": "王"},
        "key_areas": [area],
    }
    headers = auth("enterprise", org="91120116MA0000000X")
    response = await api.post("/v1/evaluators", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_uscc"
    body["uscc"] = make_uscc()
    body["key_areas"] = [str(uuid.uuid4())]
    response = await api.post("/v1/evaluators", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "key_areas[0]"
    body["key_areas"] = [area]
    assert (await api.post("/v1/evaluators", json=body, headers=headers)).status_code == 201
    again = await api.post("/v1/evaluators", json=body, headers=headers)
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_evaluator"


async def test_experts_are_registered_by_regulators(api):
    body = {"subject": "expert:wang", "name": "王", "affiliation": "南开大学"}
    assert (await api.post("/v1/experts", json=body, headers=auth("expert"))).status_code == 403
    assert (await api.post("/v1/experts", json=body, headers=REGULATOR)).status_code == 201
    dup = await api.post("/v1/experts", json=body, headers=REGULATOR)
    assert dup.json()["code"] == "duplicate_expert"
    bad = await api.post(
        "/v1/experts",
        json={**body, "subject": "x", "evaluator_id": str(uuid.uuid4())},
        headers=REGULATOR,
    )
    assert bad.status_code == 422
    assert (await api.get("/v1/experts", headers=auth("expert"))).status_code == 403
    listed = await api.get("/v1/experts", headers=REGULATOR)
    assert "expert:wang" in [e["subject"] for e in listed.json()["items"]]


async def test_a_category_code_that_is_no_path_segment_is_refused(api):
    """Found by schemathesis: "" or ".." reached the registry as another path (a 500)."""
    for code in ("", "  ", "..", "HA/RICE", "HA?x"):
        r = await api.post(
            "/v1/key-areas",
            json={"year": 2026, "level": "municipal", "name": "家用电器", "categories": [code]},
            headers=REGULATOR,
        )
        assert r.status_code == 422, (code, r.text)
        assert r.json()["code"] == "validation_failed"
