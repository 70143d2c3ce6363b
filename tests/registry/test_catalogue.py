import copy
import json
from importlib import resources
from typing import Any

import pytest

from services.registry.catalogue import (
    CatalogueError,
    CategorySpec,
    IndicatorSpec,
    load_catalogue,
    parse_catalogue,
)


def shipped_json() -> dict[str, Any]:
    text = (
        resources.files("services.registry.catalogue")
        .joinpath("categories.json")
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


def good() -> dict[str, Any]:
    return {
        "version": 1,
        "categories": [
            {"code": "HA", "name": "家用电器", "parent": None, "gbt4754": "385", "indicators": []},
            {
                "code": "HA-RICE-COOKER",
                "name": "电饭锅",
                "parent": "HA",
                "gbt4754": "3854",
                "indicators": [
                    {
                        "code": "thermal_efficiency",
                        "name": "热效率",
                        "unit": "%",
                        "direction": "higher",
                        "national_requirement": None,
                        "requirement_source": None,
                    },
                    {
                        "code": "standby_power",
                        "name": "待机功率",
                        "unit": "W",
                        "direction": "lower",
                        "national_requirement": 2.0,
                        "requirement_source": "某标准",
                    },
                ],
            },
        ],
    }


def problems_of(data: object) -> list[str]:
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(data)
    return info.value.problems


# --- The shipped file --------------------------------------------------------------------


def test_shipped_catalogue_loads():
    cats = load_catalogue()
    assert all(isinstance(c, CategorySpec) for c in cats)
    codes = [c.code for c in cats]
    assert len(codes) == len(set(codes))
    leaves = [c for c in cats if c.indicators]
    assert 15 <= len(leaves) <= 25
    for leaf in leaves:
        assert 3 <= len(leaf.indicators) <= 6, leaf.code
        assert leaf.parent is not None
        assert leaf.gbt4754 is not None
        assert len(leaf.gbt4754) == 4
    assert load_catalogue() == cats
    assert load_catalogue() is not cats  # callers get their own list


def test_shipped_catalogue_parents_come_first():
    seen: set[str] = set()
    for category in load_catalogue():
        assert category.parent is None or category.parent in seen
        seen.add(category.code)


def test_shipped_catalogue_covers_the_key_sectors():
    by_code = {c.code: c for c in load_catalogue()}
    groups = {c.name for c in by_code.values() if c.parent is None}
    assert {"家用电器", "照明电器", "化妆品", "汽车零部件", "石油化工产品", "服务"} <= groups
    names = {c.name for c in by_code.values()}
    for name in [
        "电饭锅",
        "洗衣机",
        "家用电冰箱",
        "房间空气调节器",
        "LED筒灯",
        "LED球泡灯",
        "护肤膏霜",
        "汽车制动衬片",
        "车用汽油",
        "物业服务",
        "快递服务",
    ]:
        assert name in names

    rice = by_code["HA-RICE-COOKER"]
    assert rice.name == "电饭锅"
    assert rice.parent == "HA"
    assert rice.gbt4754 == "3854"
    assert [i.code for i in rice.indicators] == [
        "thermal_efficiency",
        "standby_power",
        "keep_warm_energy",
        "rice_moisture_spread",
        "noise",
    ]

    gasoline = {i.code: i for i in by_code["PETRO-GASOLINE"].indicators}
    assert gasoline["sulfur"] == IndicatorSpec(
        code="sulfur",
        name="硫含量",
        unit="mg/kg",
        direction="lower",
        national_requirement=10,
        requirement_source="GB 17930-2016 车用汽油（ⅥB）",
    )
    cream = {i.code: i for i in by_code["COS-SKIN-CREAM"].indicators}
    assert (cream["lead"].national_requirement, cream["mercury"].national_requirement) == (10, 1)
    assert cream["total_bacterial_count"].unit == "CFU/g"
    apf = by_code["HA-AIR-CONDITIONER"].indicators[0]
    assert (apf.code, apf.direction, apf.national_requirement) == ("apf", "higher", 3.5)


def test_shipped_file_round_trips():
    data = shipped_json()
    assert data["version"] == 1
    assert parse_catalogue(data) == load_catalogue()


def test_specs_are_frozen():
    category = load_catalogue()[0]
    with pytest.raises(ValueError, match="frozen"):
        category.name = "x"  # type: ignore[misc]


# --- Validation --------------------------------------------------------------------------


def test_good_minimal_catalogue():
    cats = parse_catalogue(good())
    assert [c.code for c in cats] == ["HA", "HA-RICE-COOKER"]
    assert cats[1].indicators[1].national_requirement == 2.0


def test_duplicate_category_code():
    data = good()
    data["categories"].append(copy.deepcopy(data["categories"][1]))
    assert problems_of(data) == ["duplicate category code 'HA-RICE-COOKER'"]


def test_missing_parent():
    data = good()
    data["categories"][1]["parent"] = "NOPE"
    assert problems_of(data) == [
        "category 'HA-RICE-COOKER': parent 'NOPE' does not exist",
        "category 'HA' has no children and no indicators",
    ]


def test_parent_cycle():
    data = good()
    data["categories"][0]["parent"] = "HA-RICE-COOKER"
    assert problems_of(data) == ["parent cycle: HA -> HA-RICE-COOKER -> HA"]


def test_self_parent():
    data = good()
    data["categories"][1]["parent"] = "HA-RICE-COOKER"
    assert "parent cycle: HA-RICE-COOKER -> HA-RICE-COOKER" in problems_of(data)


def test_bad_direction():
    data = good()
    data["categories"][1]["indicators"][0]["direction"] = "up"
    (problem,) = problems_of(data)
    assert problem.startswith("categories.1.indicators.0.direction: Input should be 'higher' or")


def test_duplicate_indicator_code():
    data = good()
    data["categories"][1]["indicators"][1]["code"] = "thermal_efficiency"
    (problem,) = problems_of(data)
    assert problem == (
        "categories.1.indicators: Value error, duplicate indicator code 'thermal_efficiency'"
    )


def test_unknown_field_rejected():
    data = good()
    data["categories"][1]["colour"] = "red"
    assert problems_of(data) == ["categories.1.colour: Extra inputs are not permitted"]


@pytest.mark.parametrize("code", ["ha-rice", "HA_RICE", "HA--RICE", "", "电饭锅"])
def test_bad_category_code(code):
    data = good()
    data["categories"][1]["code"] = code
    assert any(p.startswith("categories.1.code:") for p in problems_of(data))


@pytest.mark.parametrize("code", ["ThermalEfficiency", "thermal-efficiency", "_x", "1x", ""])
def test_bad_indicator_code(code):
    data = good()
    data["categories"][1]["indicators"][0]["code"] = code
    assert any(p.startswith("categories.1.indicators.0.code:") for p in problems_of(data))


@pytest.mark.parametrize("gbt", ["38540", "3", "X385", "38a4"])
def test_bad_gbt4754(gbt):
    data = good()
    data["categories"][1]["gbt4754"] = gbt
    assert any(p.startswith("categories.1.gbt4754:") for p in problems_of(data))


def test_requirement_needs_source_and_vice_versa():
    data = good()
    data["categories"][1]["indicators"][1]["requirement_source"] = None
    (problem,) = problems_of(data)
    assert problem.endswith(
        "national_requirement and requirement_source must be given together or both null"
    )
    data = good()
    data["categories"][1]["indicators"][0]["requirement_source"] = "GB 1-2000"
    assert len(problems_of(data)) == 1


def test_non_finite_requirement_rejected():
    data = good()
    data["categories"][1]["indicators"][1]["national_requirement"] = float("nan")
    (problem,) = problems_of(data)
    assert "finite" in problem


def test_leaf_without_indicators():
    data = good()
    data["categories"][1]["indicators"] = []
    assert problems_of(data) == [
        "category 'HA-RICE-COOKER' has no children and no indicators",
    ]


def test_not_an_object():
    assert problems_of([]) == [
        "<root>: Input should be a valid dictionary or instance of _CatalogueFile"
    ]


def test_error_message_lists_every_problem():
    data = good()
    data["categories"][1]["parent"] = "NOPE"
    with pytest.raises(CatalogueError, match=r"^invalid category catalogue: category 'HA-RICE"):
        parse_catalogue(data)


async def test_migrated_catalogue_is_the_shipped_one(session):
    """A change to categories.json needs a migration of its own: the database must say so."""
    from sqlalchemy import select

    from services.registry.models import Category, CategoryIndicator

    shipped = load_catalogue()
    rows = (await session.execute(select(Category).order_by(Category.position))).scalars().all()
    assert [(c.code, c.name, c.parent, c.gbt4754) for c in rows] == [
        (c.code, c.name, c.parent, c.gbt4754) for c in shipped
    ]
    words = (
        await session.execute(
            select(CategoryIndicator).order_by(
                CategoryIndicator.category_code, CategoryIndicator.position
            )
        )
    ).scalars()
    stored = {(w.category_code, w.code, w.unit, w.direction, w.national_requirement) for w in words}
    assert stored == {
        (c.code, i.code, i.unit, i.direction, i.national_requirement)
        for c in shipped
        for i in c.indicators
    }
