"""Filing and following complaints: targets, evidence, access codes, contact details, limits."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import timedelta

from sqlalchemy import select

from services.oversight.models import Complaint
from tests.conftest import auth
from tests.oversight.conftest import RANKING_SERVICE, REGULATOR, declared_standard, publicity_notice

PDF = b"%PDF-1.4\n%test evidence\n"
CONTACT = {"name": "张三", "phone": "13800000000", "email": "zhang@example.cn"}


def complaint(target_type, target_id, **over):
    body = {
        "kind": "report",
        "target": {"type": target_type, "id": target_id},
        "grounds": "non_conforming",
        "description": "实测热效率低于其公开的企业标准。",
        "contact": CONTACT,
    }
    body.update(over)
    return body


async def file_on_standard(client, registry, headers=None, **over):
    standard = await declared_standard(registry)
    r = await client.post(
        "/v1/complaints", json=complaint("standard", standard["id"], **over), headers=headers or {}
    )
    assert r.status_code == 201, r.text
    return standard, r.json()


async def test_anonymous_filer_follows_with_the_code_and_not_without(client, registry, session):
    standard, filed = await file_on_standard(client, registry)
    path = f"/v1/complaints/{filed['tracking_no']}"
    assert filed["complaint"]["progress"]["state"] == "received"
    assert filed["complaint"]["anonymous"] is True

    ok = await client.get(path, headers={"X-Access-Code": filed["access_code"]})
    assert ok.status_code == 200
    assert ok.json()["target"] == {"type": "standard", "id": standard["id"]}
    assert "contact" not in ok.json()
    wrong = await client.get(path, headers={"X-Access-Code": filed["access_code"] + "x"})
    assert wrong.status_code == 404
    assert (await client.get(path)).status_code == 404

    stored = (
        await session.execute(
            select(Complaint).where(Complaint.tracking_no == filed["tracking_no"])
        )
    ).scalar_one()
    assert filed["access_code"] not in (stored.access_code_hash, stored.tracking_no)
    assert stored.access_code_hash == hashlib.sha256(filed["access_code"].encode()).hexdigest()


async def test_contact_details_only_for_regulators(client, registry):
    standard, filed = await file_on_standard(client, registry)
    path = f"/v1/complaints/{filed['tracking_no']}"
    code = {"X-Access-Code": filed["access_code"]}
    assert "contact" not in filed["complaint"]
    seen = (await client.get(path, headers=REGULATOR)).json()
    assert seen["contact"] == CONTACT
    for role, org in [
        ("enterprise", standard["uscc"]),
        ("evaluator", "B1"),
        ("expert", None),
        ("service", None),
    ]:
        r = await client.get(path, headers={**auth(role, org=org), **code})
        assert r.status_code == 200, role
        assert "contact" not in r.json(), role
        assert "filer_sub" not in r.json(), role
    listed = (await client.get("/v1/complaints", headers=REGULATOR)).json()["items"]
    assert listed[0]["contact"] == CONTACT


async def test_a_filer_with_a_token_follows_without_the_code(client, registry):
    filer = auth("enterprise", org="91120000MA0000001X", sub="enterprise:competitor")
    _, filed = await file_on_standard(client, registry, headers=filer)
    path = f"/v1/complaints/{filed['tracking_no']}"
    assert filed["complaint"]["anonymous"] is False
    assert (await client.get(path, headers=filer)).status_code == 200
    other = auth("enterprise", org="91120000MA0000002X", sub="enterprise:other")
    assert (await client.get(path, headers=other)).status_code == 404
    mine = (await client.get("/v1/complaints", headers=filer)).json()["items"]
    assert [c["tracking_no"] for c in mine] == [filed["tracking_no"]]
    assert (await client.get("/v1/complaints", headers=other)).json()["items"] == []
    assert (await client.get("/v1/complaints")).status_code == 401


async def test_targets_are_checked_with_their_owners(client, registry, ranking):
    r = await client.post("/v1/complaints", json=complaint("standard", str(uuid.uuid4())))
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_target"
    r = await client.post("/v1/complaints", json=complaint("enterprise", "91120116MA0000000X"))
    assert r.json()["code"] == "unknown_target"
    r = await client.post("/v1/complaints", json=complaint("notice", str(uuid.uuid4())))
    assert r.json()["code"] == "unknown_target"
    ranking.titles["T-1"] = {"id": "T-1", "uscc": "91120116MA0000009X", "status": "active"}
    r = await client.post("/v1/complaints", json=complaint("title", "T-1"))
    assert r.status_code == 201
    assert r.json()["complaint"]["target_verified"] is True
    assert (
        await client.post("/v1/complaints", json=complaint("title", "T-404"))
    ).status_code == 422


async def test_a_title_complaint_is_taken_unverified_while_ranking_is_down(client, ranking):
    ranking.down = True
    r = await client.post("/v1/complaints", json=complaint("title", "T-7"))
    assert r.status_code == 201, r.text
    assert r.json()["complaint"]["target_verified"] is False


async def test_objection_after_the_window_closes_names_the_date(client, clock):
    notice = (
        await client.post("/v1/notices", json=publicity_notice(), headers=RANKING_SERVICE)
    ).json()
    objection = complaint("notice", notice["id"], kind="objection", grounds="other")
    clock.advance(timedelta(days=9))  # Wednesday 6 May, the last day of the window
    assert (await client.post("/v1/complaints", json=objection)).status_code == 201
    clock.advance(timedelta(days=1))
    r = await client.post("/v1/complaints", json=objection)
    assert r.status_code == 422
    assert r.json()["code"] == "objection_window_closed"
    assert "2026-05-06" in r.json()["detail"]


async def test_evidence_is_checked_and_hashed(client, registry):
    good = {
        "filename": "报告.pdf",
        "media_type": "application/pdf",
        "content_base64": base64.b64encode(PDF).decode(),
    }
    _, filed = await file_on_standard(client, registry, evidence=[good])
    [item] = filed["complaint"]["evidence"]
    assert item["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert item["size_bytes"] == len(PDF)

    standard = await declared_standard(registry)
    fake = {**good, "media_type": "image/png"}
    r = await client.post(
        "/v1/complaints", json=complaint("standard", standard["id"], evidence=[fake])
    )
    assert r.json()["code"] == "evidence_type_mismatch"
    big = {**good, "content_base64": base64.b64encode(b"%PDF-" + b"0" * (6 * 1024 * 1024)).decode()}
    r = await client.post(
        "/v1/complaints", json=complaint("standard", standard["id"], evidence=[big])
    )
    assert r.json()["code"] == "evidence_too_large"
    junk = {**good, "content_base64": "not base64!"}
    r = await client.post(
        "/v1/complaints", json=complaint("standard", standard["id"], evidence=[junk])
    )
    assert r.status_code == 422


async def test_anonymous_filing_is_rate_limited_per_client(client, registry, clock):
    standard = await declared_standard(registry)
    body = complaint("standard", standard["id"])
    codes = [(await client.post("/v1/complaints", json=body)).status_code for _ in range(5)]
    assert codes == [201] * 5
    refused = await client.post("/v1/complaints", json=body)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    # 10:00 in the window that started at 10:00: an hour to wait.
    assert refused.headers["Retry-After"] == "3600"
    with_token = await client.post("/v1/complaints", json=body, headers=auth("expert", sub="e:1"))
    assert with_token.status_code == 201
    clock.advance(timedelta(hours=1))
    assert (await client.post("/v1/complaints", json=body)).status_code == 201


async def test_a_malformed_target_id_is_unknown_not_a_registry_outage(client, registry):
    """Found by schemathesis: a non-UUID standard id (or one with control characters) made
    the registry answer 422, or the client fail to build the URL, and the filer got a 5xx."""
    for target_id in ("outbox_messages", "a\x07b", "../enterprises"):
        r = await client.post("/v1/complaints", json=complaint("standard", target_id))
        assert r.status_code == 422, (target_id, r.text)
        assert r.json()["code"] == "unknown_target"
