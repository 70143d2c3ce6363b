"""Search: Chinese substrings of one, two and more characters, number spellings, filters."""

from __future__ import annotations

import pytest_asyncio
from sqlalchemy import text

from services.kit.reads import Reader
from services.registry.standards import reads
from tests.conftest import auth
from tests.registry.conftest import declare, make_uscc, register


@pytest_asyncio.fixture(loop_scope="session")
async def corpus(registry_client):
    """Three enterprises in two districts with four standards."""
    a, b, c = make_uscc("120116"), make_uscc("120116"), make_uscc("120104")
    await register(registry_client, a, name="天津津味电器有限公司")
    await register(registry_client, b, name="滨海洗涤设备有限公司", region="120116")
    await register(registry_client, c, name="南开照明科技有限公司", region="120104")
    ids = {}
    r = await declare(registry_client, a, standard_no="Q/12JW 0001-2024", name="智能电饭锅")
    ids["rice"] = r.json()["id"]
    r = await declare(
        registry_client,
        b,
        standard_no="Q/12BH 0007-2023",
        name="滚筒洗衣机",
        category="HA-WASHING-MACHINE",
        publication_date="2023-06-01",
        implementation_date="2023-07-01",
        products=[{"name": "滚筒洗衣机", "brand": "海河"}],
        indicators=[],
    )
    assert r.status_code == 201, r.text
    ids["washer"] = r.json()["id"]
    r = await declare(
        registry_client,
        c,
        standard_no="T/TJLA 12-2022",
        name="LED筒灯",
        category="LT-LED-DOWNLIGHT",
        publication_date="2022-01-10",
        implementation_date="2022-02-01",
        products=[{"name": "LED筒灯"}],
        indicators=[],
    )
    assert r.status_code == 201, r.text
    ids["lamp"] = r.json()["id"]
    r = await declare(
        registry_client,
        a,
        standard_no="Q/12JW 0002-2024",
        name="电压力锅",
        products=[{"name": "电压力锅"}],
        indicators=[],
    )
    ids["pressure"] = r.json()["id"]
    return {"ids": ids, "uscc": (a, b, c)}


async def found(client, **params) -> set[str]:
    response = await client.get("/v1/standards", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_chinese_substrings_of_every_length(registry_client, corpus):
    ids = corpus["ids"]
    assert await found(registry_client, q="锅") == {ids["rice"], ids["pressure"]}
    assert await found(registry_client, q="电饭") == {ids["rice"]}
    assert await found(registry_client, q="洗衣") == {ids["washer"]}
    assert await found(registry_client, q="智能电饭锅") == {ids["rice"]}
    # Every bigram of 饭压 occurs nowhere adjacent: grams alone would not prove a match.
    assert await found(registry_client, q="饭压") == set()
    # Enterprise and brand names are searchable too.
    assert await found(registry_client, q="津味") == {ids["rice"], ids["pressure"]}
    assert await found(registry_client, q="海河") == {ids["washer"]}
    assert await found(registry_client, q="led") == {ids["lamp"]}


async def test_standard_number_in_any_spelling(registry_client, corpus):
    ids = corpus["ids"]
    for spelling in (
        "Q/12JW 0001-2024",
        "q/12jw0001-2024",
        "Ｑ／１２ＪＷ　０００１－２０２４",
        "Q/12JW 0001—2024",
    ):
        assert await found(registry_client, q=spelling) == {ids["rice"]}, spelling
    assert await found(registry_client, q="Q/12JW") == {ids["rice"], ids["pressure"]}
    assert await found(registry_client, q="T/TJLA 12") == {ids["lamp"]}


async def test_filters(registry_client, corpus):
    ids = corpus["ids"]
    a = corpus["uscc"][0]
    assert await found(registry_client, region="120104") == {ids["lamp"]}
    assert await found(registry_client, region="1201") >= set(ids.values())
    assert await found(registry_client, region="1201", q="锅") == {ids["rice"], ids["pressure"]}
    assert await found(registry_client, category="HA-WASHING-MACHINE") == {ids["washer"]}
    assert await found(registry_client, uscc=a) == {ids["rice"], ids["pressure"]}
    assert await found(registry_client, published_from="2023-01-01", published_to="2023-12-31") == {
        ids["washer"]
    }
    await registry_client.post(
        f"/v1/standards/{ids['pressure']}/withdrawal",
        json={"reason": "停产"},
        headers={**auth("enterprise", a), "If-Match": '"1"'},
    )
    assert await found(registry_client, uscc=a, status="current") == {ids["rice"]}
    assert await found(registry_client, uscc=a, status="abolished") == {ids["pressure"]}


async def test_bad_filters_are_422(registry_client):
    for params in (
        {"region": "12a"},
        {"status": "alive"},
        {"published_from": "2024-02-01", "published_to": "2024-01-01"},
        {"limit": 0},
        {"limit": 201},
        {"cursor": "garbage!"},
    ):
        response = await registry_client.get("/v1/standards", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_keyset_pages_cover_everything_once(registry_client, corpus):
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 1, "region": "1201"}
        if cursor:
            params["cursor"] = cursor
        page = (await registry_client.get("/v1/standards", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert set(seen) >= set(corpus["ids"].values())


async def test_enterprise_rename_is_searchable(registry_client, corpus):
    a = corpus["uscc"][0]
    tag = (await registry_client.get(f"/v1/enterprises/{a}")).headers["etag"]
    renamed = await registry_client.patch(
        f"/v1/enterprises/{a}",
        json={"name": "天津新厨具集团"},
        headers={**auth("enterprise", a), "If-Match": tag},
    )
    assert renamed.status_code == 200
    ids = corpus["ids"]
    assert await found(registry_client, q="厨具") == {ids["rice"], ids["pressure"]}
    # The old name now matches only through the rice cooker's brand, 津味.
    assert await found(registry_client, q="津味") == {ids["rice"]}


async def test_text_search_pages_agree_whichever_path_serves_them(
    registry_client, corpus, monkeypatch
):
    """The id-order probe and the GIN path give the same pages, in the same order."""

    async def pages(q: str) -> list[str]:
        seen, cursor = [], None
        while True:
            params = {"q": q, "limit": 1, **({"cursor": cursor} if cursor else {})}
            page = (await registry_client.get("/v1/standards", params=params)).json()
            seen += [item["id"] for item in page["items"]]
            if not (cursor := page["next_cursor"]):
                return seen

    expected = sorted([corpus["ids"]["rice"], corpus["ids"]["pressure"]])
    assert await pages("锅") == expected  # a rare word: the GIN path
    monkeypatch.setattr(reads, "worth_probing", lambda *_: True)
    assert await pages("锅") == expected  # probe window holds the whole corpus
    monkeypatch.setattr(reads, "PROBE_ROWS", 1)
    assert await pages("锅") == expected  # the window is too small: the GIN path serves it
    monkeypatch.setattr(reads, "PROBE_ROWS", 0)
    assert await pages("锅") == expected


async def test_only_a_word_the_statistics_call_common_is_probed_in_id_order():
    stats = reads.GramStats({"电饭": 0.07, "饭锅": 0.06, "锅": 0.2}, 1_000_000, 0.0)
    assert reads.worth_probing(stats, ["电饭", "饭锅"], 20)  # 60,000 matches expected
    assert not reads.worth_probing(stats, ["电饭", "津味"], 20)  # 津味 is not among the common
    small = reads.GramStats(stats.freq, 10_000, 0.0)
    assert not reads.worth_probing(small, ["电饭", "饭锅"], 20)  # 600: the index is quicker
    sparse = reads.GramStats({"锅": 0.006}, 10_000_000, 0.0)
    assert not reads.worth_probing(sparse, ["锅"], 20)  # 12 in the window: it would not fill
    assert not reads.worth_probing(reads.GramStats({}, 0, 0.0), ["锅"], 20)  # never analysed


async def test_the_statistics_are_read_from_analyze_and_kept(registry_client, corpus, session):
    await session.execute(text("ANALYZE registry.standards"))
    db = registry_client._transport.app.state.db  # type: ignore[attr-defined]
    db.memo.pop("gram_stats", None)
    reader = Reader(db)
    stats = await reads.gram_stats(reader)
    assert stats.total >= len(corpus["ids"])
    assert stats.freq.get("锅", 0) > 0
    assert await reads.gram_stats(reader) is stats  # kept, not read again


async def test_a_whole_number_without_its_year_finds_every_year(registry_client, corpus):
    ids = corpus["ids"]
    assert await found(registry_client, q="Q/12JW 0001") == {ids["rice"]}
    assert await found(registry_client, q="ｑ／１２ｊｗ　０００２") == {ids["pressure"]}
    assert await found(registry_client, q="Q/12JW 0003-2024") == set()


async def test_a_whole_number_is_served_by_the_key_index(session):
    """Not the two bitmap scans of the gram index: the btree range on the key."""
    where = reads.conditions(reads.SearchFilters(q="Q/12JW 0001-2024"), None)
    sql = f"EXPLAIN SELECT s.id FROM registry.standards s WHERE {where.sql()}"  # noqa: S608
    for i, value in enumerate(where.params, 1):
        sql = sql.replace(f"${i}", f"'{value}'")
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in (await session.execute(text(sql))).all())
    assert "ix_standards_standard_no_key_pattern" in plan, plan
    assert "grams" not in plan, plan


async def test_a_rare_word_is_served_by_the_gram_index_in_a_reused_plan(registry_client, session):
    """The plain read's statement keeps a generic plan: fenced, it must still take the index
    (never walk the whole table in id order for a word that is not there)."""
    captured: list[tuple[str, tuple[object, ...]]] = []
    fetch = Reader.fetch

    async def recording(self, sql, *args):  # type: ignore[no-untyped-def]
        captured.append((sql, args))
        return await fetch(self, sql, *args)

    Reader.fetch = recording  # type: ignore[method-assign]
    try:
        assert (await registry_client.get("/v1/standards", params={"q": "津味"})).status_code == 200
    finally:
        Reader.fetch = fetch  # type: ignore[method-assign]
    sql, args = next((s, a) for s, a in captured if "grams" in s)
    assert "OFFSET 0" in sql
    await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    await session.execute(text(f"PREPARE rare AS {sql}"))
    literals = ", ".join(
        "ARRAY[" + ",".join(f"'{g}'" for g in a) + "]" if isinstance(a, list) else f"'{a}'"
        for a in args
    )
    plan = "\n".join(
        r[0] for r in (await session.execute(text(f"EXPLAIN EXECUTE rare({literals})"))).all()
    )
    await session.execute(text("DEALLOCATE rare"))
    assert "ix_standards_grams" in plan, plan
    assert "pk_standards" not in plan, plan
