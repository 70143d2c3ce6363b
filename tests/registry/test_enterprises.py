"""Enterprises: valid codes, own records only, private contact, verification and blocks."""

from __future__ import annotations

from sqlalchemy import func, select

from services.registry.models import Change, Enterprise, kit_tables
from tests.conftest import auth
from tests.registry.conftest import declare, enterprise_body, make_uscc, register


async def count(session, model) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_register_and_read_back(registry_client, session):
    uscc = make_uscc()
    created = await register(registry_client, uscc)
    assert created["uscc"] == uscc
    assert created["verification"] == "unverified"
    assert created["contact"]["person"] == "王工"
    kinds = (await session.execute(select(Change.kind).where(Change.uscc == uscc))).scalars().all()
    assert kinds == ["enterprise.created"]


async def test_duplicate_uscc_is_409(registry_client):
    uscc = make_uscc()
    await register(registry_client, uscc)
    again = await registry_client.post(
        "/v1/enterprises", json=enterprise_body(uscc), headers=auth("enterprise", uscc)
    )
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_uscc"


async def test_bad_uscc_is_refused_naming_the_field(registry_client, session):
    good = make_uscc()
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    for bad in (wrong_check, good[:17], good[:16] + "I" + good[17]):
        response = await registry_client.post(
            "/v1/enterprises", json=enterprise_body(bad), headers=auth("regulator")
        )
        assert response.status_code == 422, bad
        assert response.json()["code"] == "invalid_uscc"
        assert response.json()["errors"][0]["field"] == "uscc"
    assert await count(session, Enterprise) == 0


async def test_region_must_be_real_and_match_the_code(registry_client):
    uscc = make_uscc("120116")
    for region, code in (("99", "validation_failed"), ("990101", "invalid_region")):
        response = await registry_client.post(
            "/v1/enterprises",
            json=enterprise_body(uscc, region=region),
            headers=auth("enterprise", uscc),
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "region"
        if code != "validation_failed":
            assert response.json()["code"] == code
    # Binhai's former Tanggu code in an old USCC still matches the merged district.
    old = make_uscc("120107")
    ok = await registry_client.post(
        "/v1/enterprises", json=enterprise_body(old, region="120116"), headers=auth("regulator")
    )
    assert ok.status_code == 201, ok.text
    # Another province does not.
    beijing = make_uscc("110105")
    far = await registry_client.post(
        "/v1/enterprises",
        json=enterprise_body(beijing, region="120116"),
        headers=auth("regulator"),
    )
    assert far.status_code == 422
    assert far.json()["code"] == "invalid_region"


async def test_regulator_records_an_audited_exception_for_a_bad_check_digit(
    registry_client, session
):
    good = make_uscc()
    irregular = good[:17] + ("0" if good[17] != "0" else "1")
    exception = "人工核验：营业执照原件代码与系统一致（津市监2026-001）"
    refused = await registry_client.post(
        "/v1/enterprises",
        json=enterprise_body(irregular, uscc_exception=exception),
        headers=auth("enterprise", irregular),
    )
    assert refused.status_code == 403
    accepted = await registry_client.post(
        "/v1/enterprises",
        json=enterprise_body(irregular, uscc_exception=exception),
        headers=auth("regulator", sub="reg-7"),
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["uscc_exception"] == exception
    row = (
        await session.execute(
            select(kit_tables.audit).where(kit_tables.audit.c.entity_id == irregular)
        )
    ).one()
    assert (row.sub, row.action, row.detail) == ("reg-7", "create", {"uscc_exception": exception})
    # An exception does not excuse a malformed code.
    malformed = await registry_client.post(
        "/v1/enterprises",
        json=enterprise_body(good[:17], uscc_exception=exception),
        headers=auth("regulator"),
    )
    assert malformed.status_code == 422


async def test_enterprise_cannot_register_another(registry_client, session):
    mine, theirs = make_uscc(), make_uscc()
    response = await registry_client.post(
        "/v1/enterprises", json=enterprise_body(theirs), headers=auth("enterprise", mine)
    )
    assert response.status_code == 403
    assert await count(session, Enterprise) == 0
    anonymous = await registry_client.post("/v1/enterprises", json=enterprise_body(theirs))
    assert anonymous.status_code == 401


async def test_contact_is_private(registry_client):
    uscc = make_uscc()
    await register(registry_client, uscc)
    public = (await registry_client.get(f"/v1/enterprises/{uscc}")).json()
    assert "contact" not in public
    other = await registry_client.get(
        f"/v1/enterprises/{uscc}", headers=auth("enterprise", make_uscc())
    )
    assert "contact" not in other.json()
    own = await registry_client.get(f"/v1/enterprises/{uscc}", headers=auth("enterprise", uscc))
    assert own.json()["contact"]["phone"] == "022-12345678"
    regulator = await registry_client.get(f"/v1/enterprises/{uscc}", headers=auth("regulator"))
    assert regulator.json()["contact"]["email"] == "wang@example.cn"
    listed = (await registry_client.get("/v1/enterprises")).json()["items"]
    assert all("contact" not in e for e in listed)


async def test_patch_needs_a_fresh_etag(registry_client, session):
    uscc = make_uscc()
    await register(registry_client, uscc)
    read = await registry_client.get(f"/v1/enterprises/{uscc}")
    tag = read.headers["etag"]
    headers = auth("enterprise", uscc)
    missing = await registry_client.patch(
        f"/v1/enterprises/{uscc}", json={"address": "新地址"}, headers=headers
    )
    assert missing.status_code == 428
    ok = await registry_client.patch(
        f"/v1/enterprises/{uscc}", json={"address": "新地址"}, headers={**headers, "If-Match": tag}
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] != tag
    stale = await registry_client.patch(
        f"/v1/enterprises/{uscc}", json={"address": "又一个"}, headers={**headers, "If-Match": tag}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "stale_etag"
    stored = await session.get(Enterprise, uscc)
    await session.refresh(stored)
    assert stored.address == "新地址"


async def test_only_regulators_verify_and_block(registry_client, session):
    uscc = make_uscc()
    await register(registry_client, uscc)
    tag = (await registry_client.get(f"/v1/enterprises/{uscc}")).headers["etag"]
    self_verify = await registry_client.patch(
        f"/v1/enterprises/{uscc}",
        json={"verification": "verified"},
        headers={**auth("enterprise", uscc), "If-Match": tag},
    )
    assert self_verify.status_code == 403
    verified = await registry_client.patch(
        f"/v1/enterprises/{uscc}",
        json={"verification": "verified"},
        headers={**auth("regulator", sub="reg-1"), "If-Match": tag},
    )
    assert verified.json()["verification"] == "verified"
    kinds = (
        (await session.execute(select(Change.kind).where(Change.uscc == uscc).order_by(Change.id)))
        .scalars()
        .all()
    )
    assert kinds == ["enterprise.created", "enterprise.verified"]


async def test_another_enterprise_cannot_patch(registry_client, session):
    uscc = make_uscc()
    await register(registry_client, uscc)
    tag = (await registry_client.get(f"/v1/enterprises/{uscc}")).headers["etag"]
    response = await registry_client.patch(
        f"/v1/enterprises/{uscc}",
        json={"name": "冒名公司"},
        headers={**auth("enterprise", make_uscc()), "If-Match": tag},
    )
    assert response.status_code == 403
    stored = await session.get(Enterprise, uscc)
    assert stored.name == "天津市滨海新区电器有限公司"


async def test_blocked_enterprise_disappears_from_public_reads(registry_client):
    uscc = make_uscc()
    await register(registry_client, uscc)
    declared = await declare(registry_client, uscc)
    standard_id = declared.json()["id"]
    tag = (await registry_client.get(f"/v1/enterprises/{uscc}")).headers["etag"]
    no_reason = await registry_client.patch(
        f"/v1/enterprises/{uscc}",
        json={"blocked": True},
        headers={**auth("regulator"), "If-Match": tag},
    )
    assert no_reason.status_code == 422
    blocked = await registry_client.patch(
        f"/v1/enterprises/{uscc}",
        json={"blocked": True, "blocked_reason": "虚假声明，责令整改"},
        headers={**auth("regulator"), "If-Match": tag},
    )
    assert blocked.status_code == 200
    assert (await registry_client.get(f"/v1/enterprises/{uscc}")).status_code == 404
    assert (await registry_client.get(f"/v1/standards/{standard_id}")).status_code == 404
    assert (await registry_client.get(f"/v1/standards/{standard_id}/versions/1")).status_code == 404
    search = await registry_client.get("/v1/standards", params={"uscc": uscc})
    assert search.json()["items"] == []
    # The enterprise itself and the regulator still see them.
    own = await registry_client.get(
        f"/v1/standards/{standard_id}", headers=auth("enterprise", uscc)
    )
    assert own.status_code == 200
    reg = await registry_client.get(
        "/v1/standards", params={"uscc": uscc}, headers=auth("regulator")
    )
    assert [s["id"] for s in reg.json()["items"]] == [standard_id]


async def test_a_standard_declared_during_a_block_is_hidden_too(live_client, committed):
    """The block and the declaration serialise on the enterprise row: nothing slips out."""
    import asyncio

    from sqlalchemy import update

    from services.registry.models import Standard

    uscc = make_uscc()
    await register(live_client, uscc)
    blocking = committed()
    await blocking.begin()
    await blocking.execute(select(Enterprise).where(Enterprise.uscc == uscc).with_for_update())
    await blocking.execute(
        update(Enterprise)
        .where(Enterprise.uscc == uscc)
        .values(blocked=True, blocked_reason="查处")
    )
    await blocking.execute(update(Standard).where(Standard.uscc == uscc).values(hidden=True))
    declaring = asyncio.create_task(declare(live_client, uscc))
    await asyncio.sleep(0.5)
    assert not declaring.done(), "the declaration must wait for the block to finish"
    await blocking.commit()
    await blocking.close()
    response = await declaring
    assert response.status_code == 201
    public = await live_client.get(f"/v1/standards/{response.json()['id']}")
    assert public.status_code == 404
