"""Registry fixtures: valid codes, enterprises and declarations."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from stdnum.cn import uscc as stdnum_uscc

from tests.conftest import auth, bind_app, client_for, service_settings

_serial = itertools.count(1)


def make_uscc(region: str = "120116", serial: int | None = None) -> str:
    """A valid Tianjin-style USCC (check character computed, not hard-coded)."""
    n = next(_serial) if serial is None else serial
    body = f"91{region}MA{n:07d}"[:17]
    body = body.replace("I", "J").replace("O", "P")
    return body + stdnum_uscc.calc_check_digit(body)


def enterprise_body(uscc: str, **over: Any) -> dict[str, Any]:
    body = {
        "uscc": uscc,
        "name": "天津市滨海新区电器有限公司",
        "region": uscc[2:8],
        "industry_code": "3854",
        "address": "天津市滨海新区第一大街1号",
        "contact": {"person": "王工", "phone": "022-12345678", "email": "wang@example.cn"},
    }
    body.update(over)
    return body


def standard_body(uscc: str, **over: Any) -> dict[str, Any]:
    body = {
        "uscc": uscc,
        "standard_no": "Q/12TJ 0001-2024",
        "name": "智能电饭锅企业标准",
        "subject": "product",
        "category": "HA-RICE-COOKER",
        "publication_date": "2024-03-01",
        "implementation_date": "2024-04-01",
        "products": [
            {
                "name": "智能电饭锅",
                "generic_name": "电饭锅",
                "brand": "津味",
                "barcode": "6901234567892",
                "model": "TJ-40A",
            }
        ],
        "indicators": [
            {"code": "thermal_efficiency", "operator": "≥", "value": 88.5, "unit": "%"},
            {"code": "standby_power", "operator": "≤", "value": 0.8, "test_method": "GB/T 12021.6"},
            {"name": "内胆涂层耐磨次数", "operator": "≥", "value": 20000, "unit": "次"},
        ],
        "full_text_public": True,
        "self_commitment": True,
    }
    body.update(over)
    return body


async def register(client: httpx.AsyncClient, uscc: str, **over: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/enterprises", json=enterprise_body(uscc, **over), headers=auth("enterprise", uscc)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def declare(client: httpx.AsyncClient, uscc: str, **over: Any) -> httpx.Response:
    return await client.post(
        "/v1/standards", json=standard_body(uscc, **over), headers=auth("enterprise", uscc)
    )


@pytest_asyncio.fixture(loop_scope="session")
async def live_client(database_url, committed) -> AsyncIterator[httpx.AsyncClient]:
    """A registry whose requests really commit: for feeds, races and concurrency."""
    from services.registry.app import create_app
    from services.registry.settings import RegistrySettings

    app = bind_app(create_app(service_settings(RegistrySettings, database_url)), committed)
    async with client_for(app) as client:
        yield client
    await app.state.db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def enterprise(registry_client: httpx.AsyncClient) -> str:
    uscc = make_uscc()
    await register(registry_client, uscc)
    return uscc
