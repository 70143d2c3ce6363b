"""What the registry benchmarks share: a scratch database, synthetic disclosures, statistics.

The scratch database lives on ``BENCH_DATABASE_URL`` (a role that may create databases) or
else the server on 127.0.0.1:5432, and is dropped at the end whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from stdnum import ean
from stdnum.cn import uscc as stdnum_uscc

from services.kit.auth import Role, mint_token
from services.kit.db import async_url
from services.kit.migrations import upgrade
from services.kit.settings import DEV_JWT_SECRET

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER)


def connect_kwargs(url: str) -> dict[str, Any]:
    u = make_url(async_url(url))
    return {
        "user": u.username or "postgres",
        "password": u.password,
        "database": u.database or "postgres",
        "host": u.host or "127.0.0.1",
        "port": u.port or 5432,
    }


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(**connect_kwargs(server_url()))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A fresh database migrated for the registry; its URL. Dropped on the way out.

    Runs outside any event loop: the migrations start their own.
    """
    name = f"{prefix}_{os.getpid()}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"))
    url = make_url(async_url(server_url())).set(database=name).render_as_string(False)
    try:
        upgrade("registry", url)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def registry_app(url: str, pool_size: int = 10) -> FastAPI:
    from services.registry.app import create_app
    from services.registry.settings import RegistrySettings

    settings = RegistrySettings(
        database_url=url,
        log_level="WARNING",
        log_json=False,
        outbox_relay_enabled=False,
        db_pool_size=pool_size,
        # Every read from the database: what these benches measure is the query path, not
        # memory (bench.read and bench.lookup measure both).
        read_cache_bytes=0,
    )
    return create_app(settings)


def in_process(app: FastAPI) -> httpx.AsyncClient:
    """A client calling the app in this process: no sockets, so the app's cost is what shows."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600
    )


def bearer(role: Role) -> dict[str, str]:
    token = mint_token(DEV_JWT_SECRET, role=role, sub=f"{role}:bench", ttl_seconds=24 * 3600)
    return {"Authorization": f"Bearer {token}"}


def median_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


# --------------------------------------------------------------------------------------------
# Synthetic disclosures: plausible Chinese names from a small vocabulary, valid codes
# --------------------------------------------------------------------------------------------

DISTRICTS = {
    "120101": "和平区",
    "120102": "河东区",
    "120103": "河西区",
    "120104": "南开区",
    "120105": "河北区",
    "120106": "红桥区",
    "120110": "东丽区",
    "120111": "西青区",
    "120112": "津南区",
    "120113": "北辰区",
    "120114": "武清区",
    "120115": "宝坻区",
    "120116": "滨海新区",
    "120117": "宁河区",
    "120118": "静海区",
    "120119": "蓟州区",
}
SYLLABLES = "津海华鑫瑞泰达隆盛康宏安恒信德利源通联创新科智美佳丰金永正福祥和兴元汇"
TRADES = ["电器", "家电", "照明", "日化", "化妆品", "汽车配件", "石化", "科技", "实业", "车业"]
FORMS = ["有限公司", "有限责任公司", "股份有限公司"]
MODIFIERS = ["智能", "节能", "变频", "静音", "家用", "商用", "高效", "多功能", "大容量", "超薄"]

# category -> (product words, [(indicator code, unit, typical value)])
CATEGORIES: dict[str, tuple[list[str], list[tuple[str, str, float]]]] = {
    "HA-RICE-COOKER": (
        ["电饭锅", "电饭煲", "压力电饭锅"],
        [("thermal_efficiency", "%", 86), ("standby_power", "W", 1.2), ("noise", "dB(A)", 45)],
    ),
    "HA-WASHING-MACHINE": (
        ["洗衣机", "滚筒洗衣机", "波轮洗衣机"],
        [("washing_ratio", "", 0.9), ("wash_noise", "dB(A)", 55), ("residual_moisture", "%", 50)],
    ),
    "HA-REFRIGERATOR": (
        ["冰箱", "双门冰箱", "冷藏冷冻箱"],
        [("energy_efficiency_index", "%", 40), ("daily_energy", "kWh/24h", 0.8)],
    ),
    "HA-AIR-CONDITIONER": (
        ["空调", "房间空调器", "变频空调"],
        [("apf", "W·h/(W·h)", 4.5), ("indoor_noise", "dB(A)", 40), ("standby_power", "W", 1)],
    ),
    "HA-RANGE-HOOD": (
        ["吸油烟机", "油烟机"],
        [("airflow", "m³/min", 18), ("noise", "dB(A)", 56)],
    ),
    "LT-LED-BULB": (
        ["LED球泡灯", "球泡灯", "灯"],
        [("luminous_efficacy", "lm/W", 110), ("colour_rendering", "", 82)],
    ),
    "LT-LED-PANEL": (
        ["LED平板灯", "平板灯", "面板灯"],
        [("luminous_efficacy", "lm/W", 105), ("ugr", "", 19)],
    ),
    "COS-SKIN-CREAM": (
        ["膏霜", "护肤霜", "润肤膏霜"],
        [("lead", "mg/kg", 2), ("mercury", "mg/kg", 0.2), ("total_bacterial_count", "CFU/g", 200)],
    ),
    "COS-SHAMPOO": (
        ["洗发液", "洗发香波"],
        [("active_matter", "%", 12), ("lead", "mg/kg", 1.5)],
    ),
    "AUTO-BRAKE-LINING": (
        ["制动片", "制动衬片", "刹车片"],
        [("friction_coefficient", "", 0.4), ("fade_rate", "%", 12)],
    ),
    "AUTO-SPARK-PLUG": (
        ["火花塞", "铱金火花塞"],
        [("insulation_resistance", "MΩ", 500), ("service_life", "km", 60000)],
    ),
    "PETRO-GASOLINE": (
        ["汽油", "车用汽油", "乙醇汽油"],
        [("sulfur", "mg/kg", 8), ("benzene", "%", 0.6), ("olefins", "%", 14)],
    ),
    "PETRO-DIESEL": (
        ["柴油", "车用柴油"],
        [("sulfur", "mg/kg", 8), ("cetane_number", "", 51)],
    ),
    "BIKE-E-BIKE": (
        ["电动自行车", "电动车"],
        [("vehicle_mass", "kg", 50), ("range_per_charge", "km", 60)],
    ),
}
CATEGORY_CODES = sorted(CATEGORIES)
PER_ENTERPRISE = 5
_LETTERS = "ABCDEFGHJKLMNPQRTUWXY"


def uscc_of(serial: int, region: str) -> str:
    body = f"91{region}MA{serial:07d}"
    return body + stdnum_uscc.calc_check_digit(body)


def org_code(serial: int) -> str:
    """Letters for an enterprise's ``Q/12xxx`` standard numbers, distinct per serial."""
    out = ""
    n = serial
    for _ in range(4):
        n, r = divmod(n, len(_LETTERS))
        out += _LETTERS[r]
    return out + (str(n) if n else "")


def gtin(rng: random.Random) -> str:
    body = "690" + "".join(str(rng.randrange(10)) for _ in range(9))
    return body + ean.calc_check_digit(body)


@dataclass(frozen=True)
class Firm:
    serial: int
    uscc: str
    name: str
    region: str
    brand: str
    trade: str


def firm(serial: int, seed: int = 0) -> Firm:
    rng = random.Random(serial * 7919 + seed)
    region = rng.choice(list(DISTRICTS))
    brand = rng.choice(SYLLABLES) + rng.choice(SYLLABLES)
    trade = rng.choice(TRADES)
    name = f"天津{DISTRICTS[region]}{brand}{trade}{rng.choice(FORMS)}"
    return Firm(serial, uscc_of(serial, region), name, region, brand, trade)


def disclosure(i: int, seed: int = 0) -> tuple[Firm, dict[str, Any]]:
    """Disclosure ``i`` (its enterprise is ``i // PER_ENTERPRISE``) as StandardContent fields."""
    f = firm(i // PER_ENTERPRISE, seed)
    rng = random.Random(i * 104729 + seed)
    category = CATEGORY_CODES[rng.randrange(len(CATEGORY_CODES))]
    words, vocab = CATEGORIES[category]
    word = rng.choice(words)
    modifier = rng.choice(MODIFIERS)
    indicators = [
        {
            "code": code,
            "operator": "≥" if j % 2 == 0 else "≤",
            "value": round(typical * rng.uniform(0.8, 1.2), 2),
            "unit": unit or None,
        }
        for j, (code, unit, typical) in enumerate(vocab)
    ]
    for ind in indicators:
        if ind["unit"] is None:
            del ind["unit"]
    year = 2018 + rng.randrange(7)
    content = {
        "standard_no": f"Q/12{org_code(f.serial)} {i % PER_ENTERPRISE + 1:04d}-{year}",
        "name": f"{modifier}{word}企业标准",
        "subject": "product",
        "category": category,
        "publication_date": f"{year}-{rng.randrange(1, 13):02d}-01",
        "implementation_date": f"{year}-12-28",
        "products": [
            {
                "name": f"{f.brand}{modifier}{word}",
                "generic_name": words[0],
                "brand": f.brand,
                "barcode": gtin(rng),
                "model": f"{f.brand[0]}-{rng.randrange(100, 999)}",
            }
        ],
        "indicators": indicators,
        "full_text_public": rng.random() < 0.7,
        "self_commitment": True,
    }
    return f, content


if __name__ == "__main__":
    print("shared helpers of the registry benchmarks: run bench.ingest and bench.search")
