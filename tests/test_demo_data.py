"""The demo's data set, checked against the registry's own rules and catalogue without a
database: valid codes, numbers and units, and the same items every time (which is what makes a
second ``make demo`` answer ``unchanged``)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from scripts.demo.__main__ import CALENDAR_VARIABLES, stand_in_calendar
from scripts.demo.data import DISTRICTS, dataset
from scripts.demo.plans import BODY_USCC, EVALUATIONS
from services.kit.workdays import WorkdayCalendar, today_shanghai
from services.registry import rules
from services.registry.sync.schemas import SyncItem

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = json.loads(
    (ROOT / "services/registry/catalogue/categories.json").read_text(encoding="utf-8")
)
VOCABULARY = {c["code"]: {i["code"]: i for i in c["indicators"]} for c in CATALOGUE["categories"]}


def test_the_data_set_is_the_same_every_time_and_a_few_hundred_items() -> None:
    items = dataset()
    assert items == dataset()
    assert 250 <= len(items) <= 350
    assert len({i["standard"]["category"] for i in items}) >= 4


def test_every_item_passes_the_registry_rules() -> None:
    items = dataset()
    numbers = set()
    for item in items:
        SyncItem.model_validate(item)
        firm, standard = item["enterprise"], item["standard"]
        assert rules.validate_uscc(firm["uscc"]) == firm["uscc"]
        assert rules.region_relation(firm["uscc"], firm["region"]) == "exact"
        assert firm["region"] in DISTRICTS
        number = rules.normalise_standard_no(standard["standard_no"])
        assert number == standard["standard_no"]
        assert rules.standard_type(number) == "enterprise"
        numbers.add(number)
        for product in standard["products"]:
            assert rules.validate_gtin(product["barcode"]) == product["barcode"]
        vocabulary = VOCABULARY[standard["category"]]
        for indicator in standard["indicators"]:
            word = vocabulary[indicator["code"]]
            assert indicator["unit"] == word["unit"], indicator
            assert indicator["operator"] == ("≥" if word["direction"] == "higher" else "≤")
    assert len(numbers) == len(items)
    assert rules.validate_uscc(BODY_USCC) == BODY_USCC


def test_an_enterprise_is_described_alike_in_each_of_its_items() -> None:
    """A sync updates an enterprise whose fields differ: items of one enterprise must agree,
    or each seeding would rewrite it."""
    seen: dict[str, list[dict[str, str]]] = defaultdict(list)
    for item in dataset():
        seen[item["enterprise"]["uscc"]].append(item["enterprise"])
    assert any(len(v) > 1 for v in seen.values())
    assert all(all(e == found[0] for e in found) for found in seen.values())
    names = [found[0]["name"] for found in seen.values()]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("evaluation", EVALUATIONS, ids=lambda e: e.key)
def test_the_plans_use_the_catalogue_units(evaluation) -> None:
    content = evaluation.content(2026, today_shanghai().replace(day=1))
    vocabulary = VOCABULARY[evaluation.category]
    for indicator in content["indicators"]:
        assert indicator["unit"] == vocabulary[indicator["code"]]["unit"]


def test_the_stand_in_calendar_holds_only_the_years_the_package_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in CALENDAR_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    path = tmp_path / "calendar.json"
    years = stand_in_calendar(path) or []
    package = WorkdayCalendar()
    assert all(not package.covers(y) for y in years)
    written = WorkdayCalendar.from_file(path) if years else package
    next_year = (today_shanghai() + timedelta(days=365)).year
    assert written.covers(next_year) or package.covers(next_year)

    monkeypatch.setenv("FORERUNNER_WORKDAY_CALENDAR_FILE", str(path))
    assert stand_in_calendar(tmp_path / "other.json") is None
