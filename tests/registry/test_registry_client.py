"""RegistryClient against the real registry app (in-process, on the test's database)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clients.registry import Disclosure, RegistryClient
from services.kit.http import ServiceNotFound, ServiceRejected, ServiceUnreachable
from services.registry.app import create_app
from services.registry.settings import RegistrySettings
from tests.conftest import bind_app, client_for, service_settings, token
from tests.registry.conftest import make_uscc
from tests.registry.test_sync import SYNC, item, push, source

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = [
    (method, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"))
    for method, path in RegistryClient.PATHS.values()
]


class Recording(httpx.AsyncBaseTransport):
    """Passes requests to the app, noting each; a path outside ``RegistryClient.PATHS`` fails.

    So the declared paths, checked against the contract below, are all the client calls.
    """

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.calls: list[tuple[str, str]] = []
        self.encodings: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = (request.method, request.url.path)
        assert any(m == call[0] and p.match(call[1]) for m, p in PATTERNS), call
        self.calls.append(call)
        self.encodings.append(request.headers.get("Accept-Encoding"))
        return await self.inner.handle_async_request(request)


def _app(database_url: str, sessionmaker: async_sessionmaker[AsyncSession]) -> FastAPI:
    return bind_app(create_app(service_settings(RegistrySettings, database_url)), sessionmaker)


@pytest_asyncio.fixture(loop_scope="session")
async def registry_app(database_url, sessionmaker) -> AsyncIterator[FastAPI]:
    app = _app(database_url, sessionmaker)
    yield app
    await app.state.db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def transport(registry_app) -> Recording:
    return Recording(registry_app)


@pytest_asyncio.fixture(loop_scope="session")
async def registry(transport) -> AsyncIterator[RegistryClient]:
    async with RegistryClient("http://registry", token("service"), transport=transport) as client:
        yield client


async def test_standards_by_category_streams_everything_in_one_call(
    registry_client, registry, transport
):
    a, b = make_uscc(), make_uscc()
    second = item(b, source(), 1)
    second["standard"]["indicators"][0]["value"] = 91.5
    report = await push(
        registry_client,
        [
            item(a, source(), 1),
            second,
            item(a, source(), 2, status="abolished", reason="停止生产"),
            item(a, source(), 3, category="HA-REFRIGERATOR", indicators=[]),
        ],
    )
    ids = [r["standard_id"] for r in report["items"]]

    got = [d async for d in registry.standards_by_category("HA-RICE-COOKER")]
    assert transport.calls == [("GET", "/v1/exports/standards")]
    assert all(isinstance(d, Disclosure) for d in got)
    assert [str(d.id) for d in got] == sorted(ids[:2])
    by_id = {str(d.id): d for d in got}
    assert by_id[ids[1]].enterprise_name == "天津市滨海新区电器有限公司"
    assert by_id[ids[1]].current_version == 1
    values = {i.code or i.name: i.value for i in by_id[ids[1]].indicators}
    assert values == {"thermal_efficiency": 91.5, "standby_power": 0.8, "内胆涂层耐磨次数": 20000}
    assert by_id[ids[1]].indicators[0].unit == "%"

    every = [d async for d in registry.standards_by_category("HA-RICE-COOKER", status=None)]
    assert sorted(str(d.id) for d in every) == sorted(ids[:3])
    assert [d async for d in registry.standards_by_category("NO-SUCH")] == []

    # What a run reads: the same current standards, as plain dicts of the fields it takes.
    lines = [
        d for b in [b async for b in registry.current_disclosure_lines("HA-RICE-COOKER")] for d in b
    ]
    assert [d["id"] for d in lines] == [str(d.id) for d in got]
    line = next(d for d in lines if d["id"] == ids[1])
    assert set(line) == {
        "id", "uscc", "standard_no", "category", "current_version", "enterprise_name",
        "implementation_date", "indicators",
    }  # fmt: skip
    assert (line["uscc"], line["current_version"]) == (by_id[ids[1]].uscc, 1)
    assert line["implementation_date"] == by_id[ids[1]].implementation_date
    assert line["indicators"][0] == {
        "code": "thermal_efficiency",
        "operator": by_id[ids[1]].indicators[0].operator,
        "value": 91.5,
        "value_min": None,
        "value_max": None,
        "unit": "%",
    }
    assert transport.encodings[-1] == "identity"


async def test_get_standard_and_its_versions(registry_client, registry):
    uscc, sid = make_uscc(), source()
    first = (await push(registry_client, [item(uscc, sid)]))["items"][0]
    changed = item(uscc, sid)
    changed["standard"]["products"][0]["brand"] = "津味Pro"
    await push(registry_client, [changed])

    standard = await registry.get_standard(first["standard_id"])
    assert str(standard.id) == first["standard_id"]
    assert standard.current_version == 2
    assert standard.content.products[0].brand == "津味Pro"
    assert standard.content.indicators[0].code == "thermal_efficiency"
    assert standard.withdrawn_reason is None

    v1 = await registry.get_version(standard.id, 1)
    v2 = await registry.get_version(standard.id, 2)
    assert (v1.n, v1.kind, v2.kind) == (1, "initial", "correction")
    assert v1.content.products[0].brand == "津味"
    assert v1.content_hash != v2.content_hash


async def test_errors_are_typed(registry):
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ServiceNotFound) as info:
        await registry.get_standard(missing)
    assert info.value.code == "not_found"
    with pytest.raises(ServiceNotFound):
        await registry.get_version(missing, 1)
    with pytest.raises(ServiceRejected) as bad:
        await registry.changes(after="not-a-cursor")
    assert bad.value.status == 422


async def test_changes_page_through_the_feed_and_resume(database_url, committed):
    # The feed shows only finished transactions, so this test commits for real.
    app = _app(database_url, committed)
    try:
        async with client_for(app) as http:
            uscc = make_uscc()
            response = await http.post(
                "/v1/sync/standards",
                json=[item(uscc, source(), 1), item(uscc, source(), 2)],
                headers=SYNC,
            )
            assert response.status_code == 200, response.text
        transport = Recording(app)
        async with RegistryClient("http://registry", token("service"), transport) as registry:
            mine: list[Any] = []
            # Another worker's open transaction holds the feed's horizon for a moment.
            for _ in range(100):
                page = await registry.changes(limit=200)
                mine = [c for c in page.items if c.uscc == uscc]
                if len(mine) == 3:
                    break
                await asyncio.sleep(0.1)
            assert [c.kind for c in mine] == [
                "enterprise.created",
                "standard.created",
                "standard.created",
            ]
            assert mine[1].version == 1
            assert mine[1].category == "HA-RICE-COOKER"

            first = await registry.changes(limit=1)
            assert len(first.items) == 1
            assert first.next_cursor == first.items[0].cursor
            rest = await registry.changes(after=first.next_cursor, limit=200)
            assert [c.cursor for c in rest.items][: len(page.items) - 1] == [
                c.cursor for c in page.items[1:]
            ]
            assert set(transport.calls) == {("GET", "/v1/changes")}
    finally:
        await app.state.db.dispose()


def test_every_path_the_client_calls_is_in_the_contract():
    contract = json.loads((ROOT / "openapi" / "registry.json").read_text(encoding="utf-8"))
    for name, (method, path) in RegistryClient.PATHS.items():
        assert path in contract["paths"], name
        assert method.lower() in contract["paths"][path], name
    export = contract["paths"]["/v1/exports/standards"]["get"]
    assert {p["name"] for p in export["parameters"]} >= {"format", "category", "status"}
    changes = contract["paths"]["/v1/changes"]["get"]
    assert {p["name"] for p in changes["parameters"]} >= {"after", "limit"}


def _row(n: int) -> bytes:
    return (
        json.dumps(
            {
                "id": f"00000000-0000-4000-8000-{n:012d}",
                "uscc": "91120116MA00000001",
                "standard_no": f"Q/12TJ {n:04d}-2024",
                "standard_type": "enterprise",
                "name": "电饭锅企业标准",
                "category": "HA-RICE-COOKER",
                "region": "120116",
                "status": "current",
                "publication_date": None,
                "implementation_date": None,
                "current_version": 1,
                "updated_at": "2026-01-01T00:00:00Z",
                "enterprise_name": "天津某电器有限公司",
                "indicators": [],
                "a_field_added_later": True,
            },
            ensure_ascii=False,
        ).encode()
        + b"\n"
    )


async def test_the_stream_is_retried_only_before_its_first_line():
    attempts = []

    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield _row(1)
            raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.params.get("category"))
        if len(attempts) == 1:
            return httpx.Response(503, json={"code": "service_unavailable", "detail": "busy"})
        if request.url.params["category"] == "BROKEN":
            return httpx.Response(200, stream=Broken())
        return httpx.Response(200, content=_row(1) + b"\n" + _row(2))

    transport = httpx.MockTransport(handler)
    async with RegistryClient("http://registry", "t", transport, retries=2) as registry:
        registry._http.backoff = 0
        got = [d async for d in registry.standards_by_category("HA-RICE-COOKER")]
        assert [d.standard_no for d in got] == ["Q/12TJ 0001-2024", "Q/12TJ 0002-2024"]
        assert attempts == ["HA-RICE-COOKER", "HA-RICE-COOKER"]
        seen: list[Disclosure] = []

        async def drain() -> None:
            async for d in registry.standards_by_category("BROKEN"):
                seen.append(d)

        with pytest.raises(ServiceUnreachable) as info:
            await drain()
        assert info.value.code == "stream_broken"
        assert len(seen) == 1
        assert attempts[2:] == ["BROKEN"]  # no retry once rows were handed out


async def test_a_refused_export_is_a_typed_error(registry):
    with pytest.raises(ServiceRejected) as info:
        [d async for d in registry.standards_by_category("HA-RICE-COOKER", status="bogus")]
    assert info.value.status == 422


async def test_a_reset_before_the_first_line_is_retried_as_unreachable():
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadError("connection reset by peer")

    transport = httpx.MockTransport(handler)
    async with RegistryClient("http://registry", "t", transport, retries=2) as registry:
        registry._http.backoff = 0
        with pytest.raises(ServiceUnreachable) as info:
            _ = [d async for d in registry.standards_by_category("HA-RICE-COOKER")]
    assert info.value.code == "unreachable"
    assert calls == 3


async def test_disclosure_lines_are_whole_lines_however_the_bytes_are_cut():
    """Chunks cut anywhere (inside a line, inside a character), blank lines, no newline at the
    end: every line arrives whole, in order; a stream broken after a line is a typed error."""
    rows = [_row(n) for n in range(1, 8)]
    body = b"\n".join(rows).replace(b"\n\n", b"\n\n\n").rstrip(b"\n")
    cuts = [0, 1, 5, 300, 301, 333, 900, 2000, len(body)]
    pieces = [body[a:b] for a, b in itertools.pairwise(cuts)]

    class Cut(httpx.AsyncByteStream):
        def __init__(self, broken: bool) -> None:
            self.broken = broken

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece
            if self.broken:
                raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        broken = request.url.params["category"] == "BROKEN"
        return httpx.Response(200, stream=Cut(broken))

    transport = httpx.MockTransport(handler)
    async with RegistryClient("http://registry", "t", transport, retries=0) as registry:
        batches = [b async for b in registry.current_disclosure_lines("HA-RICE-COOKER")]
        got = [d for batch in batches for d in batch]
        assert len(batches) > 1
        assert [d["standard_no"] for d in got] == [f"Q/12TJ {n:04d}-2024" for n in range(1, 8)]
        assert got[0]["enterprise_name"] == "天津某电器有限公司"
        assert "a_field_added_later" not in got[0]
        with pytest.raises(ServiceUnreachable) as info:
            _ = [b async for b in registry.current_disclosure_lines("BROKEN")]
        assert info.value.code == "stream_broken"


async def test_a_disclosure_line_with_an_id_not_in_canonical_form_is_refused():
    row = json.loads(_row(1))
    row["id"] = row["id"].replace("-", "")  # the same UUID, which a model would accept

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(row).encode() + b"\n")

    transport = httpx.MockTransport(handler)
    async with RegistryClient("http://registry", "t", transport, retries=0) as registry:
        with pytest.raises(ValidationError):
            _ = [b async for b in registry.current_disclosure_lines("HA-RICE-COOKER")]
