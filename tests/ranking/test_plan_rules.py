"""Every refusal of a plan's content names its field (rules tested without HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from services.clients.registry import CategoryRecord
from services.kit.problems import ValidationFailed
from services.ranking import engine
from services.ranking.plans import rules
from services.ranking.plans.schemas import PlanContent
from tests.ranking.conftest import indicator, plan_body

RICE = CategoryRecord.model_validate(
    {
        "code": "HA-RICE-COOKER",
        "name": "电饭锅",
        "indicators": [
            {"code": "thermal_efficiency", "name": "热效率", "unit": "%", "direction": "higher"},
            {"code": "standby_power", "name": "待机功率", "unit": "W", "direction": "lower"},
            {"code": "noise", "name": "噪声", "unit": "dB(A)", "direction": "lower"},
        ],
    }
)
WASHER = CategoryRecord.model_validate(
    {
        "code": "HA-WASHING-MACHINE",
        "name": "洗衣机",
        "indicators": [
            {"code": "wash_noise", "name": "噪声", "unit": "dB(A)", "direction": "lower"},
        ],
    }
)
AREA = ["HA-RICE-COOKER", "HA-WASHING-MACHINE"]


def fields(**over: Any) -> list[str]:
    content = PlanContent.model_validate(plan_body(**over))
    cats = {
        c: {"HA-RICE-COOKER": RICE, "HA-WASHING-MACHINE": WASHER}[c] for c in content.categories
    }
    return [e.field for e in rules.problems(content, AREA, cats)]


def test_a_good_plan_has_no_problems_and_becomes_an_engine_plan():
    assert fields() == []
    content = PlanContent.model_validate(plan_body())
    plan, gates = rules.to_engine(content, {"HA-RICE-COOKER": RICE})
    assert plan.codes == ("thermal_efficiency", "standby_power")
    assert plan.indicator("standby_power").direction is engine.Direction.LOWER
    assert gates == []


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"indicators": []}, "indicators"),
        ({"indicators": [{**indicator(), "code": "colour"}]}, "indicators[0].code"),
        ({"indicators": [indicator("thermal_efficiency", unit="‰")]}, "indicators[0].unit"),
        (
            {"indicators": [indicator("thermal_efficiency", direction="lower")]},
            "indicators[0].direction",
        ),
        ({"indicators": [indicator("standby_power", weight=-1)]}, "indicators[0].weight"),
        (
            {
                "indicators": [
                    indicator("thermal_efficiency", weight=0),
                    indicator("noise", weight=0),
                ]
            },
            "indicators",
        ),
        (
            {"indicators": [indicator("thermal_efficiency", baseline=96, benchmark=95)]},
            "indicators[0].benchmark",
        ),
        (
            {"indicators": [indicator("standby_power", baseline=0.4, benchmark=0.5)]},
            "indicators[0].benchmark",
        ),
        (
            {"indicators": [indicator("thermal_efficiency", tiering={"cuts": [85, 90]})]},
            "indicators[0].tiering.cuts",
        ),
        (
            {"indicators": [indicator("thermal_efficiency", tiering={"cuts": [90, 78]})]},
            "indicators[0].tiering.cuts",
        ),
        (
            {"indicators": [indicator("standby_power", tiering={"cuts": [1.0, 2.5]})]},
            "indicators[0].tiering.cuts",
        ),
        (
            {"indicators": [indicator("thermal_efficiency", tiering={"quantiles": 1})]},
            "indicators[0].tiering.quantiles",
        ),
        (
            {
                "indicators": [
                    indicator("thermal_efficiency", tiering={"cuts": [90], "quantiles": 3})
                ]
            },
            "indicators[0].tiering",
        ),
        ({"selection": {"rule": "top_n", "n": 0}}, "selection.n"),
        ({"selection": {"rule": "top_n"}}, "selection.n"),
        ({"selection": {"rule": "top_percent", "percent": 0}}, "selection.percent"),
        ({"selection": {"rule": "top_percent", "percent": 100.5}}, "selection.percent"),
        ({"selection": {"rule": "top_tier_all", "cap": 0}}, "selection.cap"),
        ({"cycle": {"valid_from": "2027-01-01", "valid_to": "2026-12-31"}}, "cycle.valid_to"),
        ({"categories": ["HA-RICE-COOKER", "HA-RICE-COOKER"]}, "categories[1]"),
        (
            {"categories": ["HA-RICE-COOKER", "HA-WASHING-MACHINE"]},
            "indicators[0].code",
        ),
    ],
)
def test_each_bad_plan_names_its_field(over, field):
    assert field in fields(**over)


def test_a_category_outside_the_key_area_is_refused():
    content = PlanContent.model_validate(plan_body())
    errors = rules.problems(content, ["HA-WASHING-MACHINE"], {"HA-RICE-COOKER": RICE})
    assert [e.field for e in errors] == ["categories[0]"]


def test_check_raises_one_422_listing_every_field():
    content = PlanContent.model_validate(
        plan_body(
            indicators=[indicator("thermal_efficiency", unit="‰")],
            selection={"rule": "top_n", "n": 0},
        )
    )
    with pytest.raises(ValidationFailed) as info:
        rules.check(content, AREA, {"HA-RICE-COOKER": RICE})
    assert [e.field for e in info.value.errors or []] == ["indicators[0].unit", "selection.n"]


def test_a_zero_weight_indicator_only_gates_eligibility():
    content = PlanContent.model_validate(
        plan_body(indicators=[indicator("thermal_efficiency"), indicator("noise", weight=0)])
    )
    plan, gates = rules.to_engine(content, {"HA-RICE-COOKER": RICE})
    assert plan.codes == ("thermal_efficiency",)
    assert [g.code for g in gates] == ["noise"]


def test_directions_are_filled_in_from_the_vocabulary():
    content = PlanContent.model_validate(plan_body())
    filled = rules.with_directions(content, {"HA-RICE-COOKER": RICE})
    assert [i.direction for i in filled.indicators] == ["higher", "lower"]
    assert rules.content_hash(filled) != rules.content_hash(content)
