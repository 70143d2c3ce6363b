"""POST /v1/sync/standards: idempotent bulk upsert, per-item results, streaming NDJSON."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit import streams
from services.kit.problems import ValidationFailed
from services.registry.models import Change, Enterprise, Standard, StandardVersion, kit_tables
from services.registry.sync import service as sync_service
from tests.conftest import auth
from tests.registry.conftest import declare, make_uscc, register, standard_body

SYNC = auth("sync", sub="sync:national-platform")
_sources = itertools.count(1)


def source() -> str:
    return f"NP-{next(_sources):08d}"


def item(
    uscc: str,
    source_id: str,
    number: int = 1,
    *,
    enterprise: dict[str, Any] | None = None,
    status: str | None = None,
    reason: str | None = None,
    **standard: Any,
) -> dict[str, Any]:
    content = standard_body(uscc, standard_no=f"Q/12TJ {number:04d}-2024", **standard)
    content.pop("uscc")
    body: dict[str, Any] = {
        "source_id": source_id,
        "enterprise": {
            "uscc": uscc,
            "name": "天津市滨海新区电器有限公司",
            "region": uscc[2:8],
            "industry_code": "3854",
            **(enterprise or {}),
        },
        "standard": content,
    }
    if status is not None:
        body["status"] = status
    if reason is not None:
        body["withdrawn_reason"] = reason
    return body


async def push(client: httpx.AsyncClient, items: list[Any], **kw: Any) -> dict[str, Any]:
    response = await client.post("/v1/sync/standards", json=items, headers=SYNC, **kw)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def push_ndjson(client: httpx.AsyncClient, body: bytes | AsyncIterator[bytes]) -> Any:
    headers = {**SYNC, "Content-Type": "application/x-ndjson"}
    return await client.post("/v1/sync/standards", content=body, headers=headers)


async def count(session: AsyncSession, table: Any) -> int:
    return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def counts(session: AsyncSession) -> tuple[int, int, int, int]:
    return (
        await count(session, Standard),
        await count(session, StandardVersion),
        await count(session, Change),
        await count(session, kit_tables.audit),
    )


def outcomes(report: dict[str, Any]) -> list[str]:
    return [r["result"] for r in report["items"]]


async def test_a_batch_twice_creates_then_changes_nothing(registry_client, session):
    a, b = make_uscc(), make_uscc()
    batch = [item(a, source(), 1), item(a, source(), 2), item(b, source(), 1)]
    before = await counts(session)

    first = await push(registry_client, batch)
    assert outcomes(first) == ["created"] * 3
    assert first["totals"] == {
        "received": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }
    assert [r["index"] for r in first["items"]] == [0, 1, 2]
    assert [r["source_id"] for r in first["items"]] == [i["source_id"] for i in batch]
    assert all(r["version"] == 1 and r["errors"] == [] for r in first["items"])
    after_first = await counts(session)
    # 3 standards, 3 versions, 2 enterprise.created + 3 standard.created, 5 audit rows.
    assert [x - y for x, y in zip(after_first, before, strict=True)] == [3, 3, 5, 5]

    second = await push(registry_client, batch)
    assert outcomes(second) == ["unchanged"] * 3
    assert [r["standard_id"] for r in second["items"]] == [r["standard_id"] for r in first["items"]]
    assert await counts(session) == after_first

    got = await registry_client.get(f"/v1/standards/{first['items'][0]['standard_id']}")
    assert got.status_code == 200
    assert got.json()["enterprise_name"] == "天津市滨海新区电器有限公司"
    assert got.json()["content"]["products"][0]["barcode"] == "6901234567892"
    enterprise = await registry_client.get(f"/v1/enterprises/{a}")
    assert enterprise.status_code == 200


async def test_changed_content_makes_a_correction_by_the_sync_client(registry_client, session):
    uscc, sid = make_uscc(), source()
    created = (await push(registry_client, [item(uscc, sid)]))["items"][0]
    changes_before = await count(session, Change)

    changed = item(uscc, sid)
    changed["standard"]["indicators"][0]["value"] = 90.0
    result = (await push(registry_client, [changed]))["items"][0]
    assert result["result"] == "updated"
    assert result["version"] == 2
    assert result["standard_id"] == created["standard_id"]

    version = await registry_client.get(f"/v1/standards/{created['standard_id']}/versions/2")
    assert version.status_code == 200
    assert version.json()["kind"] == "correction"
    assert version.json()["author_role"] == "sync"
    assert version.json()["content"]["indicators"][0]["value"] == 90.0
    author = (
        await session.execute(
            select(StandardVersion.author_sub).where(
                StandardVersion.standard_id == created["standard_id"], StandardVersion.n == 2
            )
        )
    ).scalar_one()
    assert author == "sync:national-platform"
    kinds = (
        (await session.execute(select(Change.kind).order_by(Change.id).offset(changes_before)))
        .scalars()
        .all()
    )
    assert kinds == ["standard.versioned"]
    # And the same changed content again is no change.
    assert outcomes(await push(registry_client, [changed])) == ["unchanged"]


async def test_one_bad_item_is_rejected_with_its_field_and_writes_nothing(registry_client, session):
    good_a, good_b = make_uscc(), make_uscc()
    bad_gtin_firm = make_uscc()
    valid = make_uscc()
    bad_uscc = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    no_commitment = item(make_uscc(), source())
    del no_commitment["standard"]["self_commitment"]
    bad_gtin = item(bad_gtin_firm, source())
    bad_gtin["standard"]["products"][0]["barcode"] = "6901234567890"
    batch = [
        item(good_a, source()),
        item(bad_uscc, source()),
        bad_gtin,
        item(make_uscc(), source(), category="NO-SUCH-CATEGORY"),
        no_commitment,
        "not an object",
        item(good_b, source()),
    ]
    report = await push(registry_client, batch)
    assert outcomes(report) == ["created"] + ["rejected"] * 5 + ["created"]
    assert report["totals"]["rejected"] == 5
    rejected = report["items"][1:6]
    assert rejected[0]["code"] == "invalid_uscc"
    assert rejected[0]["errors"][0]["field"] == "enterprise.uscc"
    assert rejected[1]["code"] == "invalid_gtin"
    assert rejected[1]["errors"] == [
        {
            "field": "standard.products.0.barcode",
            "message": "The barcode check digit does not match.",
        }
    ]
    assert rejected[2]["code"] == "unknown_category"
    assert rejected[2]["errors"][0]["field"] == "standard.category"
    assert rejected[3]["code"] == "validation_failed"
    assert rejected[3]["errors"][0]["field"] == "standard.self_commitment"
    assert rejected[4]["errors"][0]["field"] == "body"
    assert all(r["standard_id"] is None for r in rejected)

    bad_sources = [i["source_id"] for i in batch[1:5] if isinstance(i, dict)]
    stored = await session.execute(select(Standard.id).where(Standard.source_id.in_(bad_sources)))
    assert stored.first() is None
    # The enterprise of the item with the bad barcode was new: it was not created either.
    assert await session.get(Enterprise, bad_gtin_firm) is None


async def test_all_errors_of_an_item_are_reported(registry_client):
    uscc = make_uscc()
    bad = item(uscc, source(), enterprise={"region": "990000"})
    bad["standard"]["products"][0]["barcode"] = "123"
    bad["standard"]["standard_no"] = "nonsense"
    result = (await push(registry_client, [bad]))["items"][0]
    assert result["code"] == "validation_failed"
    fields = {e["field"] for e in result["errors"]}
    assert fields == {"enterprise.region", "standard.standard_no", "standard.products.0.barcode"}


async def test_ndjson_streamed_in_odd_chunks_with_a_malformed_line(registry_client, session):
    uscc = make_uscc()
    lines = [
        json.dumps(item(uscc, source(), 1), ensure_ascii=False),
        "",
        '{"source_id": "NP-broken", "enterprise": ',
        json.dumps(item(uscc, source(), 2), ensure_ascii=False),
        "  ",
        json.dumps(item(uscc, source(), 3), ensure_ascii=False),
    ]
    body = "\r\n".join(lines).encode()

    async def chunks() -> AsyncIterator[bytes]:
        # 7-byte pieces: lines, and Chinese characters, are split across chunks.
        for start in range(0, len(body), 7):
            yield body[start : start + 7]

    response = await push_ndjson(registry_client, chunks())
    assert response.status_code == 200, response.text
    report = response.json()
    assert outcomes(report) == ["created", "rejected", "created", "created"]
    assert [r["index"] for r in report["items"]] == [0, 1, 2, 3]
    assert report["items"][1]["code"] == "malformed_json"
    assert report["items"][1]["errors"][0]["field"] == "body"
    names = (
        await session.execute(select(Enterprise.name).where(Enterprise.uscc == uscc))
    ).scalar_one()
    assert names == "天津市滨海新区电器有限公司"


async def test_ndjson_line_longer_than_the_limit_is_rejected_alone(registry_client, monkeypatch):
    monkeypatch.setattr(streams, "MAX_ITEM_BYTES", 3000)
    uscc = make_uscc()
    long_item = item(uscc, source(), 2, name="长" * 2000)
    lines = [item(uscc, source(), 1), long_item, item(uscc, source(), 3)]
    body = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode()
    response = await push_ndjson(registry_client, body)
    assert outcomes(response.json()) == ["created", "rejected", "created"]
    assert response.json()["items"][1]["code"] == "malformed_json"


@pytest.mark.parametrize("role", ["enterprise", "regulator", "evaluator", "service"])
async def test_only_the_sync_role_may_sync(registry_client, role):
    uscc = make_uscc()
    response = await registry_client.post(
        "/v1/sync/standards", json=[item(uscc, source())], headers=auth(role, uscc)
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_anonymous_sync_is_401(registry_client):
    response = await registry_client.post("/v1/sync/standards", json=[])
    assert response.status_code == 401


async def test_abolished_status_withdraws_with_reason_and_event(registry_client, session):
    uscc, sid = make_uscc(), source()
    created = (await push(registry_client, [item(uscc, sid)]))["items"][0]
    changes_before = await count(session, Change)

    abolished = item(uscc, sid, status="abolished", reason="企业停产，标准废止")
    result = (await push(registry_client, [abolished]))["items"][0]
    assert result["result"] == "updated"
    assert result["version"] == 1  # a status change is not a new version of the content
    got = (await registry_client.get(f"/v1/standards/{created['standard_id']}")).json()
    assert got["status"] == "abolished"
    assert got["withdrawn_reason"] == "企业停产，标准废止"
    assert got["withdrawn_at"] is not None
    change = (
        await session.execute(select(Change).order_by(Change.id.desc()).limit(1))
    ).scalar_one()
    assert (change.kind, str(change.standard_id)) == ("standard.withdrawn", created["standard_id"])
    assert await count(session, Change) == changes_before + 1

    assert outcomes(await push(registry_client, [abolished])) == ["unchanged"]
    back = (await push(registry_client, [item(uscc, sid)]))["items"][0]
    assert (back["result"], back["code"]) == ("rejected", "withdrawn")


async def test_abolished_needs_a_reason_and_current_takes_none(registry_client):
    uscc = make_uscc()
    report = await push(
        registry_client,
        [item(uscc, source(), 1, status="abolished"), item(uscc, source(), 2, reason="无效原因")],
    )
    assert outcomes(report) == ["rejected", "rejected"]
    assert [r["errors"][0]["field"] for r in report["items"]] == ["withdrawn_reason"] * 2


async def test_new_item_already_abolished_is_created_withdrawn(registry_client, session):
    uscc = make_uscc()
    result = (
        await push(registry_client, [item(uscc, source(), status="abolished", reason="已废止")])
    )["items"][0]
    assert result["result"] == "created"
    kinds = (
        (
            await session.execute(
                select(Change.kind)
                .where(Change.standard_id == result["standard_id"])
                .order_by(Change.id)
            )
        )
        .scalars()
        .all()
    )
    assert kinds == ["standard.created", "standard.withdrawn"]


async def test_enterprise_rename_updates_it_and_reindexes_search(registry_client, session):
    uscc = make_uscc()
    sid = source()
    await push(registry_client, [item(uscc, sid, 1), item(uscc, source(), 2)])
    found = await registry_client.get("/v1/standards", params={"q": "滨海新区电器"})
    assert {s["uscc"] for s in found.json()["items"]} >= {uscc}

    standard_id = (await push(registry_client, [item(uscc, sid, 1)]))["items"][0]["standard_id"]
    etag = (await registry_client.get(f"/v1/standards/{standard_id}")).headers["etag"]
    renamed = item(uscc, sid, 1, enterprise={"name": "天津津味厨房科技有限公司"})
    result = (await push(registry_client, [renamed]))["items"][0]
    assert result["result"] == "updated"  # the enterprise changed, the standard did not
    assert result["version"] == 1
    cached = await registry_client.get(
        f"/v1/standards/{standard_id}", headers={"If-None-Match": etag}
    )
    assert cached.status_code == 200  # its enterprise's name is part of what it serves
    assert cached.json()["enterprise_name"] == "天津津味厨房科技有限公司"

    new = await registry_client.get("/v1/standards", params={"q": "津味厨房", "uscc": uscc})
    assert len(new.json()["items"]) == 2  # both standards, also the one not in the batch
    old = await registry_client.get("/v1/standards", params={"q": "滨海新区电器", "uscc": uscc})
    assert old.json()["items"] == []
    enterprise = (await registry_client.get(f"/v1/enterprises/{uscc}")).json()
    assert enterprise["name"] == "天津津味厨房科技有限公司"
    kinds = (
        (await session.execute(select(Change.kind).where(Change.uscc == uscc).order_by(Change.id)))
        .scalars()
        .all()
    )
    assert kinds[-1] == "enterprise.updated"
    assert outcomes(await push(registry_client, [renamed])) == ["unchanged"]


async def test_same_source_twice_in_a_batch_applies_in_order(registry_client):
    uscc, sid = make_uscc(), source()
    first = item(uscc, sid)
    later = item(uscc, sid)
    later["standard"]["indicators"][0]["value"] = 91.0
    report = await push(registry_client, [first, later, later])
    assert outcomes(report) == ["created", "updated", "unchanged"]
    assert [r["version"] for r in report["items"]] == [1, 2, 2]
    assert len({r["standard_id"] for r in report["items"]}) == 1
    got = (await registry_client.get(f"/v1/standards/{report['items'][0]['standard_id']}")).json()
    assert got["content"]["indicators"][0]["value"] == 91.0


async def test_standard_number_of_another_source_is_a_duplicate(registry_client, session):
    uscc = make_uscc()
    await register(registry_client, uscc)
    declared = await declare(registry_client, uscc, standard_no="Q/12TJ 0007-2024")
    assert declared.status_code == 201
    report = await push(
        registry_client,
        [
            item(uscc, source(), 7, enterprise={"name": "天津市滨海新区电器有限公司"}),
            item(uscc, source(), 8),
            item(uscc, source(), 8),
        ],
    )
    assert outcomes(report) == ["rejected", "created", "rejected"]
    assert {report["items"][0]["code"], report["items"][2]["code"]} == {"duplicate_standard_no"}
    assert report["items"][0]["errors"][0]["field"] == "standard.standard_no"


async def test_a_standard_cannot_move_to_another_enterprise(registry_client):
    sid = source()
    await push(registry_client, [item(make_uscc(), sid)])
    result = (await push(registry_client, [item(make_uscc(), sid)]))["items"][0]
    assert (result["result"], result["code"]) == ("rejected", "uscc_mismatch")


async def test_blocked_enterprise_new_standards_stay_hidden(registry_client):
    uscc = make_uscc()
    await push(registry_client, [item(uscc, source(), 1)])
    etag = (await registry_client.get(f"/v1/enterprises/{uscc}")).headers.get("ETag", '"1"')
    blocked = await registry_client.patch(
        f"/v1/enterprises/{uscc}",
        json={"blocked": True, "blocked_reason": "虚假声明"},
        headers={**auth("regulator"), "If-Match": etag},
    )
    assert blocked.status_code == 200, blocked.text
    created = (await push(registry_client, [item(uscc, source(), 2)]))["items"][0]
    assert created["result"] == "created"
    public = await registry_client.get(f"/v1/standards/{created['standard_id']}")
    assert public.status_code == 404


async def test_number_given_up_in_a_batch_can_be_taken_later_in_it(registry_client):
    uscc = make_uscc()
    moving, taking = source(), source()
    await push(registry_client, [item(uscc, moving, 1)])
    report = await push(registry_client, [item(uscc, moving, 2), item(uscc, taking, 1)])
    assert outcomes(report) == ["updated", "created"]


async def test_outcome_does_not_depend_on_the_chunk_size(registry_client, monkeypatch):
    def scenario(region: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        a, b = make_uscc(region), make_uscc(region)
        s1, s2, s3 = source(), source(), source()
        setup = [item(a, s1, 1), item(a, s2, 2), item(b, s3, 1)]
        renamed = {"name": "天津新名字电器有限公司"}
        changed = item(a, s1, 1)
        changed["standard"]["indicators"][0]["value"] = 95.5
        batch = [
            item(a, s1, 3),  # moves to number 3, giving up number 1
            item(a, source(), 1),  # takes number 1
            item(a, s2, 2, enterprise=renamed),  # renames a
            item(a, source(), 4),  # still the old name: renames it back
            changed,  # s1 again: number 1 is taken now
            item(b, s3, 2),
            item(b, s3, 2),
            item(b, source(), 2),  # duplicate of s3's new number
            {"source_id": "x"},
        ]
        return setup, batch

    def shape(report: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            (r["index"], r["result"], r["version"], r["code"], len(r["errors"]))
            for r in report["items"]
        ]

    setup, batch = scenario("120101")
    await push(registry_client, setup)
    whole = await push(registry_client, batch)

    monkeypatch.setattr(sync_service, "CHUNK_ITEMS", 1)
    setup, batch = scenario("120102")
    await push(registry_client, setup)
    one_by_one = await push(registry_client, batch)
    assert shape(whole) == shape(one_by_one)
    assert outcomes(whole) == [
        "updated",
        "created",
        "updated",
        "created",
        "rejected",
        "updated",
        "unchanged",
        "rejected",
        "rejected",
    ]


async def test_malformed_json_array_is_refused_whole(registry_client, session):
    before = await counts(session)
    good = json.dumps(item(make_uscc(), source()), ensure_ascii=False)
    response = await registry_client.post(
        "/v1/sync/standards",
        content=f"[{good}, {{oops".encode(),
        headers={**SYNC, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "malformed_json"
    assert await counts(session) == before


async def test_other_media_types_are_415(registry_client):
    response = await registry_client.post(
        "/v1/sync/standards", content=b"a,b", headers={**SYNC, "Content-Type": "text/csv"}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


async def test_too_many_items_is_413_and_writes_nothing(registry_client, session, monkeypatch):
    monkeypatch.setattr(sync_service, "MAX_ITEMS", 2)
    monkeypatch.setattr(sync_service, "CHUNK_ITEMS", 1)
    before = await counts(session)
    uscc = make_uscc()
    response = await registry_client.post(
        "/v1/sync/standards", json=[item(uscc, source(), n) for n in (1, 2, 3)], headers=SYNC
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_many_items"
    assert await counts(session) == before


async def test_empty_batch(registry_client):
    report = await push(registry_client, [])
    assert report == {
        "items": [],
        "totals": {"received": 0, "created": 0, "updated": 0, "unchanged": 0, "rejected": 0},
    }


async def collect(chunks: list[bytes]) -> list[Any]:
    async def source_chunks() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return [x async for x in streams.json_array_items(source_chunks())]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64])
async def test_json_array_reader_handles_any_chunking(size):
    data = [{"名称": "电饭锅", "n": 12345}, [1, 2], 678, "文本", None, {"x": 1.5e3}]
    body = (" [ " + " ,\n".join(json.dumps(x, ensure_ascii=False) for x in data) + " ] ").encode()
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    assert await collect(chunks) == data


@pytest.mark.parametrize(
    "body", [b"", b"{}", b"[1,]", b"[1 2]", b"[1", b"[1] x", b"[\xff]", b'[{"a": }]']
)
async def test_json_array_reader_refuses_what_is_not_an_array(body):
    with pytest.raises(ValidationFailed) as info:
        await collect([body])
    assert info.value.code == "malformed_json"


async def test_values_the_database_cannot_store_reject_only_their_item(registry_client):
    uscc = make_uscc()
    nul = item(uscc, source(), 2)
    nul["standard"]["products"][0]["model"] = "TJ\u0000-40"
    long_number = item(uscc, source(), 3)
    # "GB/T 111…": normalising a 100-character number makes 102; the column holds that.
    long_number["standard"]["standard_no"] = "GBT" + "1" * 97
    report = await push(registry_client, [item(uscc, source(), 1), nul, long_number])
    assert outcomes(report) == ["created", "rejected", "created"]
    assert report["items"][1]["errors"] == [
        {
            "field": "standard.products.0.model",
            "message": "text may not contain NUL characters or unpaired surrogates",
        }
    ]
    stored = await registry_client.get(f"/v1/standards/{report['items'][2]['standard_id']}")
    assert stored.json()["standard_no"] == "GB/T " + "1" * 97


async def test_enterprise_details_follow_the_platform_and_null_keeps_them(registry_client):
    uscc, sid = make_uscc(), source()
    with_address = item(uscc, sid, enterprise={"address": "天津市滨海新区第二大街2号"})
    await push(registry_client, [with_address])
    moved = item(uscc, sid, enterprise={"address": "天津市滨海新区第三大街3号"})
    assert outcomes(await push(registry_client, [moved])) == ["updated"]
    enterprise = (await registry_client.get(f"/v1/enterprises/{uscc}")).json()
    assert enterprise["address"] == "天津市滨海新区第三大街3号"
    assert enterprise["industry_code"] == "3854"
    assert outcomes(await push(registry_client, [item(uscc, sid)])) == ["unchanged"]
    enterprise = (await registry_client.get(f"/v1/enterprises/{uscc}")).json()
    assert enterprise["address"] == "天津市滨海新区第三大街3号"


async def test_a_code_a_regulator_accepted_by_exception_syncs(registry_client):
    valid = make_uscc()
    irregular = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    created = await registry_client.post(
        "/v1/enterprises",
        json={
            "uscc": irregular,
            "name": "天津市老字号食品厂",
            "region": irregular[2:8],
            "uscc_exception": "1990年代颁发的代码，经核实真实有效",
        },
        headers=auth("regulator"),
    )
    assert created.status_code == 201, created.text
    result = (await push(registry_client, [item(irregular, source())]))["items"][0]
    assert result["result"] == "created", result
    # Without an exception on record, the same kind of typo is still refused.
    fresh = make_uscc()
    broken = fresh[:-1] + ("0" if fresh[-1] != "0" else "1")
    rejected = await push(registry_client, [item(broken, source())])
    assert rejected["items"][0]["code"] == "invalid_uscc"


async def test_an_enterprise_registering_itself_mid_sync_does_not_sink_the_batch(
    registry_client, session, monkeypatch
):
    """The look-up missed it (it registered a moment later): its own record stands."""
    uscc = make_uscc()
    await register(registry_client, uscc, name="自行注册的公司")
    real_firms = sync_service._Run._firms

    async def firms_missing_it(self, session, usccs):
        found = await real_firms(self, session, usccs)
        found.pop(uscc, None)
        return found

    monkeypatch.setattr(sync_service._Run, "_firms", firms_missing_it)
    other = make_uscc()
    report = await push(registry_client, [item(uscc, source()), item(other, source())])
    assert outcomes(report) == ["created", "created"]
    stored = await session.get(Enterprise, uscc)
    assert stored.name == "自行注册的公司"
    created = (
        (
            await session.execute(
                select(Change.uscc).where(Change.kind == "enterprise.created").order_by(Change.id)
            )
        )
        .scalars()
        .all()
    )
    assert created.count(uscc) == 1  # the registration's own event, none from the sync
    assert created.count(other) == 1


@pytest.mark.parametrize(
    "chunks",
    [
        [b"[1.", b"5]"],
        [b"[1e", b"5]"],
        [b"[-0.", b"5e-3]"],
        [b"\xef\xbb\xbf[1, 2]"],
        [b"[tr", b"ue, nu", b"ll]"],
    ],
)
async def test_array_scalars_split_across_chunks_decode_like_json(chunks):
    async def stream():
        for c in chunks:
            yield c

    decoded = [v async for v in streams.json_array_items(stream())]
    assert decoded == json.loads(b"".join(chunks).decode("utf-8-sig"))


@pytest.mark.parametrize(
    "body",
    [
        b'[{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}]",
        b'[{"a": ' + b"9" * 5000 + b"}]",
    ],
)
async def test_json_the_decoder_cannot_hold_is_a_422_not_a_crash(body):
    async def stream():
        yield body

    with pytest.raises(ValidationFailed):
        _ = [v async for v in streams.json_array_items(stream())]


async def test_ndjson_lines_the_decoder_cannot_hold_reject_only_themselves():
    lines = [b"[" * 5000 + b"]" * 5000, b"9" * 5000, b'{"ok": 1}']

    async def stream():
        yield b"\n".join(lines)

    decoded = [v async for v in streams.ndjson_items(stream())]
    assert [type(v).__name__ for v in decoded] == ["Malformed", "Malformed", "dict"]


async def test_an_item_over_the_byte_limit_in_an_array_is_refused(monkeypatch):
    monkeypatch.setattr(streams, "MAX_ITEM_BYTES", 1000)
    body = json.dumps([{"name": "天" * 400}], ensure_ascii=False).encode()  # 1,200+ bytes

    async def stream():
        yield body

    with pytest.raises(ValidationFailed, match="at most 1000 bytes"):
        _ = [v async for v in streams.json_array_items(stream())]


async def test_a_lone_surrogate_is_rejected_with_its_item_only(registry_client):
    uscc = make_uscc()
    bad = item(uscc, "\udc00x")
    body = json.dumps([item(uscc, source()), bad])  # ASCII-escaped, as a platform may send
    response = await registry_client.post(
        "/v1/sync/standards",
        content=body,
        headers={**auth("sync"), "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert outcomes(report) == ["created", "rejected"]
    assert report["items"][1]["source_id"] is None
