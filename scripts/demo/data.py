"""The demo's Tianjin data set: enterprises across the city's districts and the standards they
disclose, as items of the registry's bulk sync (``POST /v1/sync/standards``).

Everything comes from one seeded generator and nothing from today's date, so the same size
always gives the same items: a second seeding sends identical content and the registry
answers ``unchanged`` for every item.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from stdnum import ean
from stdnum.cn import uscc as stdnum_uscc

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# GB/T 2260 districts of Tianjin, with how much manufacturing each has (a weight for the draw).
DISTRICTS = {
    "120101": ("和平区", 1),
    "120102": ("河东区", 2),
    "120103": ("河西区", 2),
    "120104": ("南开区", 2),
    "120105": ("河北区", 2),
    "120106": ("红桥区", 1),
    "120110": ("东丽区", 6),
    "120111": ("西青区", 8),
    "120112": ("津南区", 6),
    "120113": ("北辰区", 7),
    "120114": ("武清区", 8),
    "120115": ("宝坻区", 5),
    "120116": ("滨海新区", 12),
    "120117": ("宁河区", 3),
    "120118": ("静海区", 5),
    "120119": ("蓟州区", 2),
}
# Two-character trade names (字号).
_TRADE_NAMES = (
    "华美津科海泰宏达鑫源瑞丰恒信金桥渤海北洋利民万通东方长城泰达中环天宇聚能光明新华"
    "德润佳禾福安永新盛世华通博远汇鑫康达惠通鼎盛凯盛联创润泽嘉禾信达兴业海河津港卫津"
    "星光明辉晨光云帆远航昊天金源宝丰恒泰荣昌祥瑞银河百川同心宏图安泰华威精工天诚国信"
    "亿达元亨众诚卓越海纳尚品九州华辰金鼎益康德胜乐家津联蓝海沃森津宝鸿运通达锦程合众"
    "丰泽睿智启航旭日华腾"
)
TRADE_NAMES = [_TRADE_NAMES[i : i + 2] for i in range(0, len(_TRADE_NAMES), 2)]
STREETS = [
    "黄河道",
    "卫津路",
    "红旗路",
    "津塘路",
    "京津路",
    "津港公路",
    "海泰发展大道",
    "西青道",
    "泰达大街",
    "津霸公路",
]


@dataclass(frozen=True)
class Indicator:
    """How the demo draws one vocabulary indicator: its unit (as the catalogue has it), the
    range from a weak to a strong product, and the decimals it is written with."""

    code: str
    unit: str
    direction: str
    worst: float
    best: float
    decimals: int
    test_method: str
    requirement: tuple[float, str] | None = None


@dataclass(frozen=True)
class Category:
    code: str
    industry: str  # GB/T 4754 class of the makers
    trades: tuple[str, ...]  # what a maker calls itself (电器, 照明科技, ...)
    titles: tuple[str, ...]  # names of the standards
    generic: str
    share: float  # of the disclosures
    indicators: tuple[Indicator, ...] = field(default_factory=tuple)


CATEGORIES = (
    Category(
        "HA-RICE-COOKER",
        "C3854",
        ("电器", "厨房电器", "智能家电"),
        ("电饭锅", "智能电饭煲", "电脑式电饭锅", "IH电磁加热电饭煲"),
        "电饭锅",
        0.25,
        (
            Indicator("thermal_efficiency", "%", "higher", 79.0, 93.5, 1, "GB 12021.6-2017 附录A"),
            Indicator("standby_power", "W", "lower", 1.8, 0.25, 2, "GB 12021.6-2017 附录B"),
            Indicator("keep_warm_energy", "W·h", "lower", 42.0, 14.0, 1, "GB 12021.6-2017 附录C"),
            Indicator("rice_moisture_spread", "%", "lower", 4.0, 1.0, 1, "QB/T 4099-2010"),
            Indicator("noise", "dB(A)", "lower", 52.0, 38.0, 0, "GB/T 4214.1-2017"),
        ),
    ),
    Category(
        "HA-WASHING-MACHINE",
        "C3855",
        ("电器", "家电", "洗涤设备"),
        ("波轮式全自动洗衣机", "滚筒洗衣机", "家用洗衣机"),
        "洗衣机",
        0.2,
        (
            Indicator(
                "energy_per_cycle_kg",
                "kWh/(cycle·kg)",
                "lower",
                0.024,
                0.009,
                3,
                "GB 12021.4-2013 附录A",
            ),
            Indicator(
                "water_per_cycle_kg", "L/(cycle·kg)", "lower", 15.0, 7.0, 1, "GB 12021.4-2013 附录B"
            ),
            Indicator("washing_ratio", "", "higher", 0.80, 1.10, 2, "GB/T 4288-2018"),
            Indicator(
                "wash_noise",
                "dB(A)",
                "lower",
                61.0,
                46.0,
                0,
                "GB/T 4214.1-2017",
                (62, "GB 19606-2004"),
            ),
            Indicator(
                "spin_noise",
                "dB(A)",
                "lower",
                71.0,
                58.0,
                0,
                "GB/T 4214.1-2017",
                (72, "GB 19606-2004"),
            ),
        ),
    ),
    Category(
        "LT-LED-BULB",
        "C3871",
        ("照明", "光电", "照明科技"),
        ("LED球泡灯", "普通照明用LED球泡灯", "非定向自镇流LED灯"),
        "LED球泡灯",
        0.25,
        (
            Indicator("luminous_efficacy", "lm/W", "higher", 85.0, 150.0, 0, "GB/T 24824-2009"),
            Indicator(
                "colour_rendering",
                "",
                "higher",
                80.0,
                96.0,
                0,
                "GB/T 24824-2009",
                (80, "GB 30255-2019 显色指数要求"),
            ),
            Indicator("power_factor", "", "higher", 0.50, 0.98, 2, "GB/T 24824-2009"),
            Indicator("lumen_maintenance_3000h", "%", "higher", 94.0, 99.5, 1, "GB/T 24908-2014"),
            Indicator("rated_life", "h", "higher", 15000, 35000, -3, "GB/T 24908-2014"),
        ),
    ),
    Category(
        "HA-AIR-CONDITIONER",
        "C3852",
        ("空调", "制冷设备", "电器"),
        ("房间空气调节器", "变频房间空气调节器", "热泵型房间空气调节器"),
        "空调器",
        0.15,
        (
            Indicator(
                "apf", "W·h/(W·h)", "higher", 3.6, 5.4, 2, "GB/T 7725-2022", (3.5, "GB 21455-2019")
            ),
            Indicator(
                "cooling_capacity_ratio",
                "%",
                "higher",
                95.0,
                104.0,
                1,
                "GB/T 7725-2022",
                (95, "GB/T 7725-2022"),
            ),
            Indicator(
                "heating_capacity_ratio",
                "%",
                "higher",
                95.0,
                105.0,
                1,
                "GB/T 7725-2022",
                (95, "GB/T 7725-2022"),
            ),
            Indicator("indoor_noise", "dB(A)", "lower", 46.0, 36.0, 0, "GB/T 7725-2022"),
            Indicator("standby_power", "W", "lower", 2.0, 0.4, 1, "GB/T 7725-2022"),
        ),
    ),
    Category(
        "PETRO-AUS32",
        "C2669",
        ("化工", "环保科技", "精细化工"),
        ("车用尿素水溶液", "柴油发动机氮氧化物还原剂 尿素水溶液"),
        "车用尿素",
        0.15,
        (
            Indicator(
                "biuret", "%", "lower", 0.28, 0.05, 2, "GB 29518-2013 附录C", (0.3, "GB 29518-2013")
            ),
            Indicator(
                "aldehydes",
                "mg/kg",
                "lower",
                4.5,
                0.5,
                1,
                "GB 29518-2013 附录D",
                (5, "GB 29518-2013"),
            ),
            Indicator(
                "insoluble_matter",
                "mg/kg",
                "lower",
                18.0,
                2.0,
                0,
                "GB 29518-2013 附录E",
                (20, "GB 29518-2013"),
            ),
            Indicator(
                "iron",
                "mg/kg",
                "lower",
                0.45,
                0.05,
                2,
                "GB 29518-2013 附录F",
                (0.5, "GB 29518-2013"),
            ),
            Indicator(
                "phosphate",
                "mg/kg",
                "lower",
                0.45,
                0.05,
                2,
                "GB 29518-2013 附录G",
                (0.5, "GB 29518-2013"),
            ),
        ),
    ),
)


@dataclass
class Enterprise:
    uscc: str
    name: str
    region: str
    abbreviation: str  # the organisation part of its standard numbers, Q/12<abbr>
    address: str
    brand: str
    industry: str  # GB/T 4754 class, from the category it first declared in
    standards: int = 0


def _org_code(rng: random.Random) -> str:
    """Nine characters: a GB 11714-style organisation code with its check character."""
    body = "MA0" + "".join(
        rng.choice(USCC_ALPHABET[:10] + "ABCDEFGHJKLMNPQRTUWXY") for _ in range(5)
    )
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in body]
    check = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def uscc_of(region: str, rng: random.Random, kind: str = "91") -> str:
    """A valid 统一社会信用代码: 91 (a company) or 12 (a public institution), the district, the
    organisation code, and the GB 32100-2015 check character."""
    body = kind + region + _org_code(rng)
    return body + stdnum_uscc.calc_check_digit(body)


def gtin(rng: random.Random) -> str:
    body = "69" + "".join(str(rng.randrange(10)) for _ in range(10))
    return body + ean.calc_check_digit(body)


class Generator:
    """Draws enterprises and their disclosures, always in the same order."""

    def __init__(self, seed: int = 2026) -> None:
        self.rng = random.Random(seed)
        self.names: set[str] = set()
        self.abbreviations: set[str] = set()
        self.usccs: set[str] = set()
        self.regions = list(DISTRICTS)
        self.weights = [DISTRICTS[r][1] for r in self.regions]

    def enterprise(self, category: Category) -> Enterprise:
        rng = self.rng
        region = rng.choices(self.regions, self.weights)[0]
        district = DISTRICTS[region][0]
        while True:
            trade_name = rng.choice(TRADE_NAMES) + rng.choice(("", "", rng.choice(TRADE_NAMES)))
            trade = rng.choice(category.trades)
            name = rng.choice(
                (
                    f"天津{trade_name}{trade}有限公司",
                    f"天津市{trade_name}{trade}股份有限公司",
                    f"{trade_name}（天津）{trade}有限公司",
                    f"天津{district.removesuffix('新区').removesuffix('区')}{trade_name}{trade}有限公司",
                )
            )
            if name not in self.names:
                break
        self.names.add(name)
        while (abbr := "".join(rng.choices("ABCDEFGHJKLMNPQRTWXY", k=rng.choice((2, 3))))) in (
            self.abbreviations
        ):
            pass
        self.abbreviations.add(abbr)
        while (uscc := uscc_of(region, rng)) in self.usccs:
            pass
        self.usccs.add(uscc)
        address = f"天津市{district}{rng.choice(STREETS)}{rng.randrange(1, 400)}号"
        return Enterprise(uscc, name, region, abbr, address, trade_name[:2], category.industry)

    def standard(self, firm: Enterprise, category: Category) -> dict[str, Any]:
        """One disclosure: content drawn around the firm's quality, good at everything or not."""
        rng = self.rng
        firm.standards += 1
        published = date(2023, 1, 1) + timedelta(days=rng.randrange(0, 1000))
        quality = rng.betavariate(2.2, 2.2)
        indicators = []
        for spec in category.indicators:
            if rng.random() < 0.03:
                continue  # not disclosed: the standard cannot be ranked on it
            q = min(1.0, max(0.0, quality + rng.gauss(0, 0.12)))
            value = round(spec.worst + (spec.best - spec.worst) * q, spec.decimals)
            one: dict[str, Any] = {
                "code": spec.code,
                "operator": "≥" if spec.direction == "higher" else "≤",
                "value": value if spec.decimals > 0 else int(value),
                "unit": spec.unit,
                "test_method": spec.test_method,
            }
            if spec.requirement is not None:
                one["requirement"] = {"value": spec.requirement[0], "source": spec.requirement[1]}
            indicators.append(one)
        title = rng.choice(category.titles)
        model = f"{firm.abbreviation}-{rng.choice('ABCDFHKMRS')}{rng.randrange(10, 99)}"
        return {
            "standard_no": f"Q/12{firm.abbreviation} {firm.standards:04d}-{published.year}",
            "name": title,
            "subject": "product",
            "category": category.code,
            "publication_date": published.isoformat(),
            "implementation_date": (
                published + timedelta(days=rng.choice((15, 30, 31, 60)))
            ).isoformat(),
            "products": [
                {
                    "name": f"{firm.brand}牌{title}",
                    "generic_name": category.generic,
                    "brand": firm.brand,
                    "barcode": gtin(rng),
                    "model": model,
                }
            ],
            "indicators": indicators,
            "full_text_public": rng.random() < 0.7,
            "self_commitment": True,
        }


def dataset(size: int = 300, seed: int = 2026) -> list[dict[str, Any]]:
    """About ``size`` sync items over the demo's categories. Some appliance makers declare in
    two categories; a few standards are already withdrawn (废止)."""
    gen = Generator(seed)
    items: list[dict[str, Any]] = []
    makers: list[Enterprise] = []
    for category in CATEGORIES:
        for _ in range(max(6, round(size * category.share))):
            appliance = category.code.startswith("HA-")
            if appliance and makers and gen.rng.random() < 0.15:
                firm = gen.rng.choice(makers)
            else:
                firm = gen.enterprise(category)
                if appliance:
                    makers.append(firm)
            standard = gen.standard(firm, category)
            item: dict[str, Any] = {
                "source_id": f"QB-{firm.uscc}-{firm.standards:02d}",
                "enterprise": {
                    "uscc": firm.uscc,
                    "name": firm.name,
                    "region": firm.region,
                    "industry_code": firm.industry,
                    "address": firm.address,
                },
                "standard": standard,
            }
            if gen.rng.random() < 0.02:
                item["status"] = "abolished"
                item["withdrawn_reason"] = "产品停产，企业标准废止"
            items.append(item)
    return items
