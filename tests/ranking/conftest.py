"""Ranking fixtures: the ranking app with the real registry app in-process, and a stub
oversight (it is not built yet) that the tests can turn off."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from stdnum.cn import uscc as stdnum_uscc

from services.clients.oversight import OversightClient
from services.clients.registry import RegistryClient
from services.kit.clock import FixedClock
from services.ranking.app import create_app
from services.ranking.settings import RankingSettings
from services.registry.app import create_app as create_registry
from services.registry.settings import RegistrySettings
from tests.conftest import auth, bind_app, client_for, service_settings, token

REGULATOR = auth("regulator", sub="regulator:tj")
SERVICE = auth("service", sub="service:oversight")
_serial = itertools.count(1)


class Oversight:
    """A stand-in for the oversight service: exclusions to hand out, or down."""

    def __init__(self) -> None:
        self.exclusions: list[dict[str, Any]] = []
        self.up = True
        self.calls: list[str] = []
        self.asked_on: str | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        self.asked_on = request.url.params.get("on")
        if not self.up:
            raise httpx.ConnectError("oversight is down", request=request)
        if request.url.path == "/v1/exclusions":
            return httpx.Response(200, json={"items": self.exclusions, "next_cursor": None})
        return httpx.Response(404, json={"code": "not_found", "detail": "no such path"})


@pytest_asyncio.fixture(loop_scope="session")
async def registry_app(database_url, sessionmaker) -> AsyncIterator[FastAPI]:
    app = bind_app(create_registry(service_settings(RegistrySettings, database_url)), sessionmaker)
    yield app
    await app.state.db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def registry_http(registry_app) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(registry_app) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def oversight() -> Oversight:
    return Oversight()


@pytest_asyncio.fixture(loop_scope="session")
async def ranking_app(
    database_url, sessionmaker, registry_app, oversight
) -> AsyncIterator[FastAPI]:
    registry = RegistryClient(
        "http://registry",
        token("service", sub="service:ranking"),
        transport=httpx.ASGITransport(app=registry_app, raise_app_exceptions=False),
    )
    over = OversightClient(
        "http://oversight",
        token("service", sub="service:ranking"),
        transport=httpx.MockTransport(oversight.handler),
        retries=0,
    )
    app = create_app(
        service_settings(RankingSettings, database_url, background_enabled=False),
        registry=registry,
        oversight=over,
        clock=FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
    )
    bind_app(app, sessionmaker)
    yield app
    await registry.aclose()
    await over.aclose()
    await app.state.db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def api(ranking_app) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(ranking_app) as client:
        yield client


def make_uscc() -> str:
    body = f"91120116MB{next(_serial) + 500000:07d}"
    return body + stdnum_uscc.calc_check_digit(body)


async def key_area(api: httpx.AsyncClient, categories: list[str] | None = None) -> str:
    response = await api.post(
        "/v1/key-areas",
        json={
            "year": 2026,
            "level": "municipal",
            "name": f"家用电器 {next(_serial)}",
            "categories": categories or ["HA-RICE-COOKER"],
        },
        headers=REGULATOR,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def body_for(
    api: httpx.AsyncClient, areas: list[str], *, approve: bool = True
) -> tuple[str, dict[str, str]]:
    """An evaluation body (approved for ``areas`` unless told not to) and its headers."""
    response = await api.post(
        "/v1/evaluators",
        json={
            "name": f"天津市标准化研究院 {next(_serial)}",
            "uscc": make_uscc(),
            "contact": {"person": "李工", "phone": "022-23456789"},
            "key_areas": areas,
        },
        headers=auth("enterprise", org="91120116MA0000000X", sub=f"applicant:{next(_serial)}"),
    )
    assert response.status_code == 201, response.text
    body_id = str(response.json()["id"])
    if approve:
        decided = await api.post(
            f"/v1/evaluators/{body_id}/approval",
            json={"decision": "approved"},
            headers=REGULATOR,
        )
        assert decided.status_code == 200, decided.text
    return body_id, auth("evaluator", org=body_id, sub=f"evaluator:{body_id}")


async def experts(
    api: httpx.AsyncClient, count: int, evaluator_id: str | None = None
) -> list[dict[str, str]]:
    out = []
    for _ in range(count):
        subject = f"expert:{next(_serial)}"
        response = await api.post(
            "/v1/experts",
            json={
                "subject": subject,
                "name": "张教授",
                "affiliation": "天津大学",
                "evaluator_id": evaluator_id,
            },
            headers=REGULATOR,
        )
        assert response.status_code == 201, response.text
        out.append(auth("expert", sub=subject))
    return out


def indicator(code: str = "thermal_efficiency", **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "thermal_efficiency": {"unit": "%", "baseline": 80, "benchmark": 95},
        "standby_power": {"unit": "W", "baseline": 2.0, "benchmark": 0.5},
        "noise": {"unit": "dB(A)", "baseline": 60},
    }[code]
    return {"code": code, **base, "weight": 1, "tiering": {"quantiles": 3}, **over}


def plan_body(key_area_id: str | None = None, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "电饭锅企业标准领跑者评估方案",
        "categories": ["HA-RICE-COOKER"],
        "indicators": [indicator("thermal_efficiency"), indicator("standby_power")],
        "method": "composite",
        "selection": {"rule": "top_n", "n": 2},
        "cycle": {"valid_from": "2026-06-01", "valid_to": "2027-05-31"},
        "publicity_days": 5,
    }
    if key_area_id is not None:
        body["key_area_id"] = key_area_id
    body.update(over)
    return body


def etag_of(response: httpx.Response) -> dict[str, str]:
    return {"If-Match": response.headers["ETag"]}


def dump(response: httpx.Response) -> str:
    return json.dumps(response.json(), ensure_ascii=False)[:2000]
