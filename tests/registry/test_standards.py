"""Declared standards: versions, withdrawal, object-level access and every bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from services.registry.models import Change, Standard, StandardVersion
from tests.conftest import auth
from tests.registry.conftest import declare, make_uscc, register, standard_body


async def count(session, model, *where) -> int:
    stmt = select(func.count()).select_from(model)
    for clause in where:
        stmt = stmt.where(clause)
    return (await session.execute(stmt)).scalar_one()


async def test_declare_normalises_the_number_and_fills_units(registry_client, enterprise):
    response = await declare(registry_client, enterprise, standard_no="ｑ／12tj　0001—2024")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["standard_no"] == "Q/12TJ 0001-2024"
    assert body["standard_type"] == "enterprise"
    assert body["current_version"] == 1
    assert response.headers["etag"] == '"1"'
    # The number stays as written in the declared content; the unit comes from the vocabulary.
    assert body["content"]["standard_no"] == "ｑ／12tj　0001—2024"
    units = {i.get("code") or i["name"]: i["unit"] for i in body["content"]["indicators"]}
    assert units == {"thermal_efficiency": "%", "standby_power": "W", "内胆涂层耐磨次数": "次"}


async def test_same_number_in_another_spelling_is_409(registry_client, enterprise, session):
    assert (await declare(registry_client, enterprise)).status_code == 201
    again = await declare(registry_client, enterprise, standard_no="Q/12TJ0001－2024")
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_standard_no"
    assert await count(session, Standard) == 1


async def test_versions_are_complete_and_immutable(registry_client, enterprise, session):
    created = (await declare(registry_client, enterprise)).json()
    sid = created["id"]
    corrected = standard_body(enterprise, name="智能电饭锅企业标准（第1号修改单）")
    corrected.pop("uscc")
    response = await registry_client.post(
        f"/v1/standards/{sid}/versions",
        json={"kind": "correction", "content": corrected, "note": "更正名称"},
        headers={**auth("enterprise", enterprise), "If-Match": '"1"'},
    )
    assert response.status_code == 201, response.text
    assert response.json()["current_version"] == 2
    assert response.headers["etag"] == '"2"'
    revised = dict(
        corrected,
        standard_no="Q/12TJ 0001-2025",
        publication_date="2025-01-01",
        implementation_date="2025-02-01",
    )
    response = await registry_client.post(
        f"/v1/standards/{sid}/versions",
        json={"kind": "revision", "content": revised},
        headers={**auth("enterprise", enterprise), "If-Match": '"2"'},
    )
    assert response.status_code == 201, response.text
    assert response.json()["standard_no"] == "Q/12TJ 0001-2025"

    history = (await registry_client.get(f"/v1/standards/{sid}/versions")).json()
    assert [(v["n"], v["kind"]) for v in history["items"]] == [
        (1, "initial"),
        (2, "correction"),
        (3, "revision"),
    ]
    first = (await registry_client.get(f"/v1/standards/{sid}/versions/1")).json()
    assert first["content"]["name"] == "智能电饭锅企业标准"
    assert first["content"]["standard_no"] == "Q/12TJ 0001-2024"
    assert first["content"] == created["content"]
    assert (await registry_client.get(f"/v1/standards/{sid}/versions/4")).status_code == 404

    kinds = (
        (
            await session.execute(
                select(Change.kind).where(Change.standard_id == created["id"]).order_by(Change.id)
            )
        )
        .scalars()
        .all()
    )
    assert kinds == ["standard.created", "standard.versioned", "standard.versioned"]

    # Even a direct UPDATE is refused by the database.
    with pytest.raises(DBAPIError, match="immutable"):
        async with session.begin_nested():
            await session.execute(
                text("UPDATE registry.standard_versions SET note = 'x' WHERE n = 1")
            )


async def test_same_content_again_is_no_new_version(registry_client, enterprise):
    created = (await declare(registry_client, enterprise)).json()
    content = standard_body(enterprise)
    content.pop("uscc")
    response = await registry_client.post(
        f"/v1/standards/{created['id']}/versions",
        json={"kind": "correction", "content": content},
        headers={**auth("enterprise", enterprise), "If-Match": '"1"'},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "no_change"


async def test_stale_or_missing_if_match(registry_client, enterprise, session):
    sid = (await declare(registry_client, enterprise)).json()["id"]
    content = standard_body(enterprise, name="新名称")
    content.pop("uscc")
    headers = auth("enterprise", enterprise)
    missing = await registry_client.post(
        f"/v1/standards/{sid}/versions",
        json={"kind": "correction", "content": content},
        headers=headers,
    )
    assert missing.status_code == 428
    stale = await registry_client.post(
        f"/v1/standards/{sid}/versions",
        json={"kind": "correction", "content": content},
        headers={**headers, "If-Match": '"7"'},
    )
    assert stale.status_code == 412
    assert await count(session, StandardVersion) == 1


async def test_another_enterprise_cannot_touch_the_standard(registry_client, enterprise, session):
    sid = (await declare(registry_client, enterprise)).json()["id"]
    intruder = make_uscc()
    await register(registry_client, intruder)
    content = standard_body(enterprise, name="被篡改")
    content.pop("uscc")
    headers = {**auth("enterprise", intruder), "If-Match": '"1"'}
    version = await registry_client.post(
        f"/v1/standards/{sid}/versions",
        json={"kind": "correction", "content": content},
        headers=headers,
    )
    withdrawal = await registry_client.post(
        f"/v1/standards/{sid}/withdrawal", json={"reason": "恶意废止"}, headers=headers
    )
    declare_for_other = await registry_client.post(
        "/v1/standards",
        json=standard_body(enterprise, standard_no="Q/12TJ 0099-2024"),
        headers=auth("enterprise", intruder),
    )
    assert (version.status_code, withdrawal.status_code, declare_for_other.status_code) == (
        403,
        403,
        403,
    )
    std = await session.get(Standard, sid)
    assert (std.status, std.current_version, std.name) == ("current", 1, "智能电饭锅企业标准")
    assert await count(session, Standard) == 1
    # An evaluator or an expert writes nothing in the registry either.
    for role, org in (("evaluator", "EB-1"), ("expert", None)):
        r = await registry_client.post(
            f"/v1/standards/{sid}/withdrawal",
            json={"reason": "x" * 5},
            headers={**auth(role, org), "If-Match": '"1"'},
        )
        assert r.status_code == 403


async def test_withdrawal_keeps_the_record_and_its_reason(registry_client, enterprise):
    sid = (await declare(registry_client, enterprise)).json()["id"]
    response = await registry_client.post(
        f"/v1/standards/{sid}/withdrawal",
        json={"reason": "产品停产"},
        headers={**auth("enterprise", enterprise), "If-Match": '"1"'},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["withdrawn_reason"]) == ("abolished", "产品停产")
    assert body["withdrawn_at"] is not None
    read = (await registry_client.get(f"/v1/standards/{sid}")).json()
    assert read["status"] == "abolished"
    again = await registry_client.post(
        f"/v1/standards/{sid}/withdrawal",
        json={"reason": "再次"},
        headers={**auth("enterprise", enterprise), "If-Match": '"2"'},
    )
    assert again.status_code == 409
    content = standard_body(enterprise, name="复活")
    content.pop("uscc")
    revived = await registry_client.post(
        f"/v1/standards/{sid}/versions",
        json={"kind": "revision", "content": content},
        headers={**auth("enterprise", enterprise), "If-Match": '"2"'},
    )
    assert revived.status_code == 409


BAD_INPUTS = [
    ({"category": "NOPE"}, "category", "unknown_category"),
    ({"standard_no": "没有数字"}, "standard_no", "invalid_standard_no"),
    ({"self_commitment": False}, "self_commitment", "validation_failed"),
    (
        {"publication_date": "2024-05-01", "implementation_date": "2024-04-01"},
        "implementation_date",
        "validation_failed",
    ),
    (
        {"products": [{"name": "锅", "barcode": "6901234567890"}]},
        "products.0.barcode",
        "invalid_gtin",
    ),
    (
        {"indicators": [{"code": "warp_speed", "operator": "≥", "value": 9}]},
        "indicators.0.code",
        "unknown_indicator",
    ),
    (
        {"indicators": [{"code": "standby_power", "operator": "≤", "value": 0.5, "unit": "kW"}]},
        "indicators.0.unit",
        "wrong_unit",
    ),
    (
        {"indicators": [{"code": "standby_power", "operator": "≤", "value": -1}]},
        "indicators.0.value",
        "validation_failed",
    ),
    (
        {"indicators": [{"code": "standby_power", "operator": "≤", "value": "0.5"}]},
        "indicators.0.value",
        "validation_failed",
    ),
    (
        {"indicators": [{"code": "standby_power", "operator": "about", "value": 1}]},
        "indicators.0.operator",
        "validation_failed",
    ),
    (
        {"indicators": [{"code": "noise", "operator": "range", "value_min": 50, "value_max": 40}]},
        "indicators.0",
        "validation_failed",
    ),
    ({"uscc": "91120116MA0000000X"}, "uscc", "unknown_enterprise"),
]


@pytest.mark.parametrize(("change", "field", "code"), BAD_INPUTS)
async def test_bad_declarations_are_refused_naming_the_field(
    registry_client, enterprise, session, change, field, code
):
    body = {**standard_body(enterprise), **change}
    response = await registry_client.post("/v1/standards", json=body, headers=auth("regulator"))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == field
    if code:
        assert problem["code"] == code
    assert await count(session, Standard) == 0
    assert await count(session, StandardVersion) == 0
    assert await count(session, Change, Change.kind.like("standard.%")) == 0


async def test_missing_commitment_field(registry_client, enterprise):
    body = standard_body(enterprise)
    del body["self_commitment"]
    response = await declare_raw(registry_client, enterprise, body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "self_commitment"


async def declare_raw(client, uscc, body):
    return await client.post("/v1/standards", json=body, headers=auth("enterprise", uscc))


async def test_unknown_fields_are_refused(registry_client, enterprise):
    response = await declare_raw(
        registry_client, enterprise, standard_body(enterprise, approved_by_regulator=True)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "approved_by_regulator"


async def test_idempotent_declaration(registry_client, enterprise, session):
    headers = {**auth("enterprise", enterprise), "Idempotency-Key": "decl-1"}
    first = await registry_client.post(
        "/v1/standards", json=standard_body(enterprise), headers=headers
    )
    again = await registry_client.post(
        "/v1/standards", json=standard_body(enterprise), headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replay"] == "true"
    assert again.headers["etag"] == first.headers["etag"] == '"1"'
    assert await count(session, Standard) == 1


async def test_input_the_database_cannot_take_is_422_not_503(registry_client, enterprise):
    from services.kit.pagination import encode_cursor

    nul = await registry_client.get("/v1/standards", params={"q": "电\x00饭"})
    assert nul.status_code == 422
    body = await registry_client.post(
        "/v1/standards",
        json=standard_body(enterprise, name="电饭锅\x00"),
        headers=auth("enterprise", enterprise),
    )
    assert body.status_code == 422
    assert "NUL" in body.json()["detail"]
    for cursor in (encode_cursor(["abc"]), encode_cursor([1]), encode_cursor([[1]])):
        response = await registry_client.get("/v1/standards", params={"cursor": cursor})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "cursor"
    sid = (await declare(registry_client, enterprise)).json()["id"]
    huge = await registry_client.get(f"/v1/standards/{sid}/versions/10000000000000001")
    assert huge.status_code == 422


async def test_weak_etags_do_not_match(registry_client, enterprise):
    sid = (await declare(registry_client, enterprise)).json()["id"]
    response = await registry_client.post(
        f"/v1/standards/{sid}/withdrawal",
        json={"reason": "停产"},
        headers={**auth("enterprise", enterprise), "If-Match": 'W/"1"'},
    )
    assert response.status_code == 412


async def test_operator_of_the_wrong_type_is_422(registry_client, enterprise):
    body = standard_body(
        enterprise, indicators=[{"code": "standby_power", "operator": {}, "value": 1}]
    )
    response = await registry_client.post(
        "/v1/standards", json=body, headers=auth("enterprise", enterprise)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "indicators.0.operator"
