"""What the demo evaluates: the regulator's key areas, the evaluation body and its experts, and
two evaluation plans (one composite, one tiered) over the data set's categories."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from scripts.demo.data import uscc_of

# 重点领域 of the year: name and categories.
KEY_AREAS = {
    "家用电器": ["HA-RICE-COOKER", "HA-WASHING-MACHINE", "HA-AIR-CONDITIONER"],
    "照明电器": ["LT-LED-BULB"],
    "车用尿素水溶液": ["PETRO-AUS32"],
}
BODY_NAME = "天津市标准化研究院"
BODY_USCC = uscc_of("120000", random.Random(12), kind="12")  # 12: a public institution
BODY_CONTACT = {"person": "赵晓明", "phone": "022-58881234", "email": "lpz@example.org.cn"}
EXPERTS = [
    ("expert:demo:wang-jianguo", "王建国", "天津大学"),
    ("expert:demo:li-xiuying", "李秀英", "南开大学"),
    ("expert:demo:zhang-wei", "张伟", "天津市产品质量监督检测技术研究院"),
    ("expert:demo:liu-yang", "刘洋", "中国家用电器研究院"),
    ("expert:demo:chen-jing", "陈静", "天津工业大学"),
]
# 目标: Tianjin's action plan, forerunners of each level by the end of 2026.
TARGETS = [
    {"level": "municipal", "by": "2026-12-31", "count": 60, "note": "津标委办发〔2021〕1号"},
    {"level": "national", "by": "2026-12-31", "count": 130, "note": "津标委办发〔2021〕1号"},
]


def _indicator(
    code: str, unit: str, baseline: float, benchmark: float, weight: float, **tiering: Any
) -> dict[str, Any]:
    return {
        "code": code,
        "unit": unit,
        "baseline": baseline,
        "benchmark": benchmark,
        "weight": weight,
        "tiering": tiering or {"quantiles": 3},
    }


@dataclass(frozen=True)
class Evaluation:
    """One plan of the demo: its key area, its category, and its content for a year."""

    key: str  # short name in the demo's output
    area: str
    category: str
    product: str

    def content(self, year: int, starts: date) -> dict[str, Any]:
        cycle = {
            "valid_from": starts.isoformat(),
            "valid_to": (starts.replace(year=starts.year + 1) - timedelta(days=1)).isoformat(),
        }
        name = f"{year}年度{self.product}企业标准“领跑者”评估方案"
        if self.category == "HA-RICE-COOKER":
            return {
                "name": name,
                "categories": [self.category],
                "indicators": [
                    _indicator("thermal_efficiency", "%", 81, 93, 0.4),
                    _indicator("standby_power", "W", 1.6, 0.3, 0.2),
                    _indicator("keep_warm_energy", "W·h", 40, 14, 0.2),
                    _indicator("noise", "dB(A)", 52, 38, 0.2),
                ],
                "method": "composite",
                "selection": {"rule": "top_n", "n": 5},
                "cycle": cycle,
                "publicity_days": 7,
                "commitment_days": 10,
            }
        return {
            "name": name,
            "categories": [self.category],
            "indicators": [
                _indicator("luminous_efficacy", "lm/W", 90, 150, 1, cuts=[130, 110]),
                _indicator("colour_rendering", "", 80, 95, 1, cuts=[90, 85]),
                _indicator("power_factor", "", 0.5, 0.95, 1, cuts=[0.9, 0.7]),
            ],
            "method": "tiered",
            "selection": {"rule": "top_n", "n": 3},
            "cycle": cycle,
            "publicity_days": 7,
            "commitment_days": 10,
        }


RICE_COOKERS = Evaluation("rice-cookers", "家用电器", "HA-RICE-COOKER", "电饭锅")
LED_BULBS = Evaluation("led-bulbs", "照明电器", "LT-LED-BULB", "LED球泡灯")
EVALUATIONS = (RICE_COOKERS, LED_BULBS)

COMMITMENT = (
    "本企业承诺：所声明的企业标准《{name}》（{standard_no}）现行有效，产品质量持续符合该标准"
    "要求，接受社会监督；如有不符，自愿接受撤销企业标准“领跑者”称号等处理。"
)
OPT_OUT = "产品即将换代升级，本评估周期不参加“领跑者”评定"
