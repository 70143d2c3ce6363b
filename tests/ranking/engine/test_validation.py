"""Plans and batches refuse inputs the rules can not rank."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from services.ranking.engine import (
    CandidateBatch,
    Direction,
    Indicator,
    Plan,
    Selection,
    SelectionRule,
    Tiering,
    rank,
)

HIGHER, LOWER = Direction.HIGHER, Direction.LOWER
TOP1 = Selection(SelectionRule.TOP_N, n=1)
PLAN = Plan((Indicator("v", HIGHER, baseline=0),), TOP1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": float("nan")}, "baseline must be a finite number"),
        ({"benchmark": 0.0}, "benchmark must be better"),
        ({"benchmark": -1.0}, "benchmark must be better"),
        ({"weight": 0.0}, "weight must be positive"),
        ({"weight": float("inf")}, "weight must be a finite number"),
        ({"tiering": Tiering.cut_points(0.0)}, "cut points must be better"),
        ({"tiering": Tiering.cut_points(5.0, 5.0)}, "duplicate cut points"),
        ({"code": ""}, "must not be empty"),
    ],
)
def test_indicator_rejects(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"code": "v", "direction": HIGHER, "baseline": 0.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        Indicator(**args)


def test_lower_is_better_checks_run_the_other_way() -> None:
    Indicator("noise", LOWER, baseline=60, benchmark=40, tiering=Tiering.cut_points(50, 45))
    with pytest.raises(ValueError, match="benchmark must be better"):
        Indicator("noise", LOWER, baseline=60, benchmark=70)
    with pytest.raises(ValueError, match="cut points must be better"):
        Indicator("noise", LOWER, baseline=60, tiering=Tiering.cut_points(65))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Tiering(),
        lambda: Tiering(cuts=(1.0,), quantiles=3),
        lambda: Tiering.quantile(1),
        lambda: Tiering.quantile(101),
    ],
)
def test_tiering_rejects(make: Any) -> None:
    with pytest.raises(ValueError, match=r"Tiering|quantile"):
        make()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rule": SelectionRule.TOP_N}, "top_n needs n"),
        ({"rule": SelectionRule.TOP_N, "n": 0}, "top_n needs n"),
        ({"rule": SelectionRule.TOP_PERCENT}, "top_percent needs percent"),
        ({"rule": SelectionRule.TOP_PERCENT, "percent": 0.0}, r"percent must be in"),
        ({"rule": SelectionRule.TOP_PERCENT, "percent": 100.5}, r"percent must be in"),
        ({"rule": SelectionRule.TOP_TIER_ALL, "n": 3}, "n only applies"),
        ({"rule": SelectionRule.TOP_N, "n": 3, "percent": 5.0}, "percent only applies"),
        ({"rule": SelectionRule.TOP_TIER_ALL, "cap": 0}, "cap must be"),
    ],
)
def test_selection_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Selection(**kwargs)


def test_plan_rejects() -> None:
    ind = Indicator("v", HIGHER, baseline=0)
    with pytest.raises(ValueError, match="at least one"):
        Plan((), TOP1)
    with pytest.raises(ValueError, match="duplicate indicator"):
        Plan((ind, ind), TOP1)
    with pytest.raises(ValueError, match="reference_k"):
        Plan((ind,), TOP1, reference_k=0)


def _batch(**overrides: Any) -> CandidateBatch:
    args: dict[str, Any] = {
        "standard_ids": np.array(["a", "b"]),
        "standard_numbers": np.array(["1", "2"]),
        "categories": np.array(["k", "k"]),
        "indicator_codes": ("v",),
        "values": np.array([[1.0], [2.0]]),
        "plans": {"k": PLAN},
        **overrides,
    }
    return CandidateBatch(**args)


def test_batch_accepts_object_arrays_and_lists() -> None:
    batch = _batch(standard_ids=["a", "b"], categories=np.array(["k", "k"], dtype=object))
    assert rank(batch).category("k").n_eligible == 2


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"values": np.array([1.0, 2.0])}, ValueError, "values must have shape"),
        ({"standard_numbers": np.array(["1"])}, ValueError, "differ in length"),
        ({"indicator_codes": ("v", "v"), "values": np.ones((2, 2))}, ValueError, "duplicate"),
        ({"plans": {"k": Plan((Indicator("w", HIGHER, 0),), TOP1)}}, ValueError, "not in the"),
        ({"missing": np.zeros((2, 2), bool)}, ValueError, "same shape"),
        ({"standard_ids": np.array([1, 2])}, TypeError, "strings"),
        ({"plans": {"k": "not a plan"}}, TypeError, "not a Plan"),
    ],
)
def test_batch_rejects(overrides: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        _batch(**overrides)


def test_rank_rejects_duplicate_ids_and_unknown_categories() -> None:
    with pytest.raises(ValueError, match="duplicate standard ids"):
        rank(_batch(standard_ids=np.array(["a", "a"])))
    with pytest.raises(ValueError, match="no plan for categories"):
        rank(_batch(categories=np.array(["k", "q"])))
    with pytest.raises(ValueError, match="no plan for categories"):
        rank(_batch(plans={}))


def test_duplicate_ids_found_among_many() -> None:
    ids = np.array([f"id-{i:05d}" for i in range(5000)])
    ids[4321] = ids[17]
    n = ids.size
    batch = CandidateBatch(
        standard_ids=ids,
        standard_numbers=ids,
        categories=np.full(n, "k"),
        indicator_codes=("v",),
        values=np.ones((n, 1)),
        plans={"k": PLAN},
    )
    with pytest.raises(ValueError, match="id-00017"):
        rank(batch)


def test_equal_numbers_are_ordered_by_id() -> None:
    n = 50
    rng = np.random.default_rng(7)
    ids = np.array([f"s{i:02d}" for i in rng.permutation(n)])
    batch = CandidateBatch(
        standard_ids=ids,
        standard_numbers=np.full(n, "Q/SAME"),
        categories=np.full(n, "k"),
        indicator_codes=("v",),
        values=np.ones((n, 1)),
        plans={"k": PLAN},
    )
    result = rank(batch)
    assert result.standard_ids.tolist() == sorted(ids.tolist())
    assert [o.standard_id for o in result.category("k").ranking()] == sorted(ids.tolist())
