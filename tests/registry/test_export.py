"""GET /v1/exports/standards: the filtered public registry, streamed as NDJSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest

from services.registry.exports import service as export_service
from tests.conftest import auth
from tests.registry.conftest import make_uscc
from tests.registry.test_sync import item, push, source

EXPORT = "/v1/exports/standards"


async def seed(client: httpx.AsyncClient) -> dict[str, Any]:
    """Two enterprises in two districts; rice cookers, a fridge, an abolished standard."""
    a, b = make_uscc("120116"), make_uscc("120101")
    fridge = item(a, source(), 4, category="HA-REFRIGERATOR", name="节能冰箱企业标准")
    fridge["standard"]["indicators"] = [
        {"code": "energy_efficiency_index", "operator": "≤", "value": 35.0},
        {"code": "noise", "operator": "range", "value_min": 30.0, "value_max": 38.5},
    ]
    fridge["standard"]["products"] = [{"name": "双门冰箱", "generic_name": "冰箱"}]
    batch = [
        item(a, source(), 1),
        item(a, source(), 2, name="电饭锅（商用）企业标准"),
        item(a, source(), 3, status="abolished", reason="产品停产"),
        fridge,
        item(b, source(), 1, enterprise={"name": "天津市和平区小家电有限公司"}),
    ]
    report = await push(client, batch)
    assert report["totals"]["created"] == 5
    ids = [r["standard_id"] for r in report["items"]]
    return {"a": a, "b": b, "ids": ids}


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.text.endswith("\n")
    return [json.loads(line) for line in response.text.splitlines()]


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def test_ndjson_streams_exactly_the_filtered_set(registry_client):
    seeded = await seed(registry_client)
    a, ids = seeded["a"], seeded["ids"]
    response = await registry_client.get(
        EXPORT, params={"format": "ndjson", "category": "HA-RICE-COOKER", "region": "120116"}
    )
    rows = ndjson(response)
    assert [r["id"] for r in rows] == sorted(ids[:3])
    assert 'filename="standards-' in response.headers["content-disposition"]
    assert response.headers["content-disposition"].endswith('.ndjson"')
    first = next(r for r in rows if r["id"] == ids[0])
    assert first == {
        "id": ids[0],
        "uscc": a,
        "standard_no": "Q/12TJ 0001-2024",
        "standard_type": "enterprise",
        "name": "智能电饭锅企业标准",
        "category": "HA-RICE-COOKER",
        "region": "120116",
        "status": "current",
        "publication_date": "2024-03-01",
        "implementation_date": "2024-04-01",
        "current_version": 1,
        "updated_at": first["updated_at"],
        "enterprise_name": "天津市滨海新区电器有限公司",
        "indicators": [
            {
                "code": "thermal_efficiency",
                "name": None,
                "operator": "≥",
                "value": 88.5,
                "value_min": None,
                "value_max": None,
                "unit": "%",
                "test_method": None,
                "requirement": None,
            },
            {
                "code": "standby_power",
                "name": None,
                "operator": "≤",
                "value": 0.8,
                "value_min": None,
                "value_max": None,
                "unit": "W",
                "test_method": "GB/T 12021.6",
                "requirement": None,
            },
            {
                "code": None,
                "name": "内胆涂层耐磨次数",
                "operator": "≥",
                "value": 20000.0,
                "value_min": None,
                "value_max": None,
                "unit": "次",
                "test_method": None,
                "requirement": None,
            },
        ],
    }
    assert first["updated_at"].endswith("Z")
    for row in rows:  # the documented row shape is what is sent
        export_service.ExportRow.model_validate(row)

    current = ndjson(
        await registry_client.get(
            EXPORT, params={"category": "HA-RICE-COOKER", "status": "current", "q": "电饭锅"}
        )
    )
    assert sorted(r["id"] for r in current) == sorted([ids[0], ids[1], ids[4]])
    commercial = ndjson(await registry_client.get(EXPORT, params={"q": "商用"}))
    assert [r["id"] for r in commercial] == [ids[1]]
    abolished = ndjson(await registry_client.get(EXPORT, params={"uscc": a, "status": "abolished"}))
    assert [(r["id"], r["status"]) for r in abolished] == [(ids[2], "abolished")]


async def test_csv_is_excel_ready_and_round_trips_chinese(registry_client):
    seeded = await seed(registry_client)
    ids = seeded["ids"]
    response = await registry_client.get(EXPORT, params={"format": "csv", "uscc": seeded["a"]})
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.csv"')
    body = response.content.decode("utf-8-sig")
    assert body.startswith("id,uscc,enterprise_name,")
    assert body.count("\r\n") == 5
    assert "\n" not in body.replace("\r\n", "")
    rows = read_csv(response)
    assert list(rows[0]) == list(export_service.CSV_COLUMNS)
    assert [r["id"] for r in rows] == sorted(ids[:4])
    by_id = {r["id"]: r for r in rows}
    cooker, fridge = by_id[ids[0]], by_id[ids[3]]
    assert cooker["enterprise_name"] == "天津市滨海新区电器有限公司"
    assert cooker["name"] == "智能电饭锅企业标准"
    assert cooker["publication_date"] == "2024-03-01"
    assert cooker["current_version"] == "1"
    assert cooker["indicators"] == (
        "thermal_efficiency ≥ 88.5 %; standby_power ≤ 0.8 W; 内胆涂层耐磨次数 ≥ 20000 次"
    )
    assert fridge["indicators"] == "energy_efficiency_index ≤ 35 %; noise 30~38.5 dB(A)"
    assert json.loads(fridge["indicators_json"])[1]["value_max"] == 38.5
    assert by_id[ids[2]]["status"] == "abolished"

    as_ndjson = ndjson(await registry_client.get(EXPORT, params={"uscc": seeded["a"]}))
    assert [json.loads(r["indicators_json"]) for r in rows] == [r["indicators"] for r in as_ndjson]


async def test_csv_quotes_separators_and_defuses_formulas(registry_client):
    uscc = make_uscc()
    tricky = item(
        uscc, source(), 1, name='=HYPERLINK("x")标准', enterprise={"name": '天津,"甲"\n乙公司'}
    )
    await push(registry_client, [tricky])
    rows = read_csv(await registry_client.get(EXPORT, params={"format": "csv", "uscc": uscc}))
    assert len(rows) == 1
    assert rows[0]["enterprise_name"] == '天津,"甲"\n乙公司'
    assert rows[0]["name"] == '\'=HYPERLINK("x")标准'


async def test_blocked_enterprises_are_left_out_for_the_public(registry_client):
    seeded = await seed(registry_client)
    b = seeded["b"]
    etag = (await registry_client.get(f"/v1/enterprises/{b}")).headers["ETag"]
    blocked = await registry_client.patch(
        f"/v1/enterprises/{b}",
        json={"blocked": True, "blocked_reason": "虚假声明"},
        headers={**auth("regulator"), "If-Match": etag},
    )
    assert blocked.status_code == 200, blocked.text
    params = {"category": "HA-RICE-COOKER"}
    public = ndjson(await registry_client.get(EXPORT, params=params))
    assert b not in {r["uscc"] for r in public}
    assert seeded["a"] in {r["uscc"] for r in public}
    public_csv = read_csv(await registry_client.get(EXPORT, params={**params, "format": "csv"}))
    assert b not in {r["uscc"] for r in public_csv}
    regulator = ndjson(await registry_client.get(EXPORT, params=params, headers=auth("regulator")))
    assert b in {r["uscc"] for r in regulator}


async def test_rows_come_in_pages_each_read_on_its_own(registry_client, monkeypatch):
    monkeypatch.setattr(export_service, "BATCH_ROWS", 2)
    seeded = await seed(registry_client)
    rows = ndjson(await registry_client.get(EXPORT, params={"uscc": seeded["a"]}))
    assert [r["id"] for r in rows] == sorted(seeded["ids"][:4])
    csv_rows = read_csv(
        await registry_client.get(EXPORT, params={"uscc": seeded["a"], "format": "csv"})
    )
    assert len(csv_rows) == 4


async def test_empty_export_still_has_the_csv_header(registry_client):
    response = await registry_client.get(EXPORT, params={"format": "csv", "uscc": make_uscc()})
    assert response.content == b"\xef\xbb\xbf" + ",".join(export_service.CSV_COLUMNS).encode() + (
        b"\r\n"
    )
    assert (await registry_client.get(EXPORT, params={"uscc": make_uscc()})).content == b""


@pytest.mark.parametrize(
    "params",
    [
        {"format": "xlsx"},
        {"region": "tianjin"},
        {"published_from": "2024-02-01", "published_to": "2024-01-01"},
    ],
)
async def test_bad_parameters_are_422(registry_client, params):
    response = await registry_client.get(EXPORT, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "params",
    [
        {"category": "a\x00b"},
        {"q": "电\x00饭"},
        {"region": "12\x00"},
        {"uscc": "9112\x000116"},
        {"status": "current\x00"},
        {"format": "csv", "cursor\x00": "x"},
    ],
)
async def test_a_nul_in_any_parameter_is_422_before_a_byte_of_the_file(registry_client, params):
    response = await registry_client.get(EXPORT, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "NUL" in response.json()["detail"]
    assert "content-disposition" not in response.headers


async def test_a_nul_in_a_header_is_422_on_any_route(registry_client):
    response = await registry_client.get("/v1/categories", headers={"Accept-Language": "zh\x00CN"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "accept-language", "message": "must not contain a NUL character"}
    ]


async def test_a_refusal_on_the_first_page_is_a_problem_not_a_200(registry_client, monkeypatch):
    from services.kit.problems import Busy

    async def refused(*_: Any) -> Any:
        raise Busy()
        yield  # an async generator, like the real one

    monkeypatch.setattr(export_service, "batches", refused)
    response = await registry_client.get(EXPORT, params={"format": "csv"})
    assert response.status_code == 503
    assert response.json()["code"] == "busy"
    assert response.headers["retry-after"] == "5"


@pytest.fixture
async def served_registry(database_url, sessionmaker):
    """The registry behind a real uvicorn on a free port (a broken-off transfer needs a socket)."""
    import asyncio
    import socket

    import uvicorn

    from services.registry.app import create_app
    from services.registry.settings import RegistrySettings
    from tests.conftest import bind_app, service_settings

    app = bind_app(create_app(service_settings(RegistrySettings, database_url)), sessionmaker)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):  # uvicorn offers no event for "listening"
        if server.started:
            break
        await asyncio.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    await app.state.db.dispose()


@pytest.mark.parametrize(("failure", "traceback"), [("busy", False), ("bug", True)])
async def test_a_failure_mid_stream_breaks_the_transfer_off(
    served_registry, registry_client, monkeypatch, caplog, failure, traceback
):
    from services.kit.problems import Busy

    _, base = served_registry
    seeded = await seed(registry_client)
    monkeypatch.setattr(export_service, "BATCH_ROWS", 1)
    real = export_service.ndjson_lines
    sent: list[str] = []

    def lines(batch: Any) -> bytes:
        if sent:
            raise Busy() if failure == "busy" else RuntimeError("a bug")
        sent.extend(str(row["id"]) for row in batch)
        return real(batch)

    monkeypatch.setattr(export_service, "ndjson_lines", lines)
    received: list[bytes] = []

    async def download() -> int:
        async with (
            httpx.AsyncClient(base_url=base) as client,
            client.stream(
                "GET",
                EXPORT,
                params={"uscc": seeded["a"]},
                headers={"Accept-Encoding": "identity"},  # the raw lines, not gzip
            ) as response,
        ):
            async for chunk in response.aiter_raw():
                received.append(chunk)
            return response.status_code

    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        await download()
    lines = b"".join(received).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == sent
    ours = [r for r in caplog.records if r.getMessage().startswith("response broken off")]
    assert len(ours) == 1
    assert (ours[0].exc_info is not None) is traceback
    assert ours[0].levelname == ("ERROR" if traceback else "WARNING")


async def test_the_lines_the_database_writes_are_the_records_python_would(registry_client, session):
    """The NDJSON lines are built in SQL; they must say what ``record`` says of the same rows,
    time stamps with and without microseconds included."""
    from sqlalchemy import text

    from services.registry.standards import reads
    from services.registry.standards.reads import SearchFilters

    seeded = await seed(registry_client)
    whole = await session.execute(
        text(
            "UPDATE registry.standards SET updated_at = date_trunc('second', updated_at) "
            "WHERE id = :id"
        ),
        {"id": seeded["ids"][0]},
    )
    assert whole.rowcount == 1
    conn = (await (await session.connection()).get_raw_connection()).driver_connection
    f = SearchFilters(uscc=seeded["a"])
    rows = await reads.export_page(conn, f, None, None, 100)
    lines = await reads.export_lines(conn, f, None, None, 100)
    assert [r["id"] for r in lines] == [r["id"] for r in rows]
    assert len(rows) == 4
    for row, line in zip(rows, lines, strict=True):
        assert json.loads(line["line"]) == export_service.record(row)
    stamps = {json.loads(line["line"])["updated_at"] for line in lines}
    assert any("." not in s for s in stamps)
    assert any("." in s for s in stamps)
