"""Hand-worked examples: every figure below was worked out on paper from the rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.ranking.engine import (
    CandidateBatch,
    CapTies,
    Direction,
    ExclusionReason,
    Indicator,
    Method,
    Plan,
    Reference,
    Selection,
    SelectionRule,
    Tiering,
    explain,
    rank,
)

from .helpers import Row, display, outcomes, run

HIGHER, LOWER = Direction.HIGHER, Direction.LOWER

# --- national practice: tiered, no order inside a tier ---------------------------------

# Washing machines: noise (dB, lower is better) with explicit cut points 50 / 55 over a
# baseline of 62, standby power (W, lower is better) in 2 quantile tiers over 0.5 W.
WASHER = Plan(
    indicators=(
        Indicator("noise", LOWER, baseline=62, tiering=Tiering.cut_points(55, 50)),
        Indicator("standby", LOWER, baseline=0.5, tiering=Tiering.quantile(2)),
    ),
    selection=Selection(SelectionRule.TOP_TIER_ALL),
    method=Method.TIERED,
)
WASHER_ROWS: list[Row] = [
    ("s1", "Q/TJ 006", "washer", {"noise": 48, "standby": 0.30}),
    ("s2", "Q/TJ 002", "washer", {"noise": 50, "standby": 0.30}),
    ("s3", "Q/TJ 005", "washer", {"noise": 53, "standby": 0.20}),
    ("s4", "Q/TJ 001", "washer", {"noise": 55, "standby": 0.45}),
    ("s5", "Q/TJ 004", "washer", {"noise": 58, "standby": 0.50}),  # standby at baseline
    ("s6", "Q/TJ 003", "washer", {"noise": 63, "standby": 0.10}),  # noise over 62 dB
    ("s7", "Q/TJ 007", "washer", {"noise": None, "standby": 0.20}),
]


def test_tiered_national_practice_tier_lists() -> None:
    result = run({"washer": WASHER}, WASHER_ROWS)
    cat = result.category("washer")
    # noise: <= 50 tier 1 (50 is at the cut), <= 55 tier 2, <= 62 tier 3; by number.
    assert cat.tier_lists("noise") == (("s2", "s1"), ("s4", "s3"), ("s5",))
    # standby, k = 2 over 5 eligible: better counts s3 0, s1/s2 1, s4 3, s5 4;
    # tier = 1 + floor(2b/5) -> 1, 1, 1, 2, 2.
    assert cat.tier_lists("standby") == (("s2", "s3", "s1"), ("s4", "s5"))
    assert cat.n_eligible == 5


def test_tiered_selection_and_profile_rank() -> None:
    result = run({"washer": WASHER}, WASHER_ROWS)
    cat = result.category("washer")
    assert cat.selected_ids() == ["s2", "s1"]  # tier 1 on both; by number inside the tie
    by_id = outcomes(result)
    # profiles: s1/s2 two tier-1s; s3 one tier-1 (sum 3); s4 none (sum 4); s5 none (sum 5)
    assert {k: v.rank for k, v in by_id.items()} == {
        "s1": 1,
        "s2": 1,
        "s3": 3,
        "s4": 4,
        "s5": 5,
        "s6": None,
        "s7": None,
    }
    assert all(o.score is None for o in by_id.values())  # tiered plans have no score
    assert display(result, "washer") == ["s2", "s1", "s3", "s4", "s5", "s6", "s7"]
    sel = cat.selection
    assert (sel.nominal, sel.selected, sel.tie_extended, sel.added) == (2, 2, False, 0)
    assert sel.cut_score is None
    assert sel.cut_rank == 1


def test_tiered_exclusion_reasons() -> None:
    by_id = outcomes(run({"washer": WASHER}, WASHER_ROWS))
    assert [(r.reason, r.indicator) for r in by_id["s6"].reasons] == [
        (ExclusionReason.BELOW_BASELINE, "noise")
    ]
    assert [(r.reason, r.indicator) for r in by_id["s7"].reasons] == [
        (ExclusionReason.MISSING, "noise")
    ]
    assert by_id["s5"].eligible  # exactly at the baseline is eligible
    assert by_id["s6"].tiers == {"noise": None, "standby": None}


def test_tiered_explanation_thresholds() -> None:
    ex = explain(run({"washer": WASHER}, WASHER_ROWS), "s3")
    noise, standby = ex.indicator("noise"), ex.indicator("standby")
    assert (noise.tier, noise.tier_count, noise.top_tier_threshold) == (2, 3, 50.0)
    # s3 misses tier 1 only on noise, so noise alone reaches top_tier_all at 50 dB.
    assert noise.value_needed == 50.0
    assert standby.tier == 1
    assert standby.value_needed is None
    # Others 0.30, 0.30, 0.45, 0.50: tier 1 allows ceil(5/2) - 1 = 2 strictly better.
    assert standby.top_tier_threshold == 0.45
    assert ex.score is None
    assert ex.score_gap is None
    assert not ex.selected


@pytest.mark.parametrize(
    ("policy", "expected", "added", "dropped"),
    [(CapTies.KEEP, ["s2", "s1"], 1, 0), (CapTies.DROP, [], 0, 1)],
)
def test_top_tier_all_cap_inside_tie(
    policy: CapTies, expected: list[str], added: int, dropped: int
) -> None:
    plan = Plan(
        indicators=WASHER.indicators,
        selection=Selection(SelectionRule.TOP_TIER_ALL, cap=1, cap_ties=policy),
        method=Method.TIERED,
    )
    cat = run({"washer": plan}, WASHER_ROWS).category("washer")
    assert cat.selected_ids() == expected
    sel = cat.selection
    assert (sel.nominal, sel.selected, sel.added, sel.cap_dropped) == (
        1,
        len(expected),
        added,
        dropped,
    )
    assert sel.tie_extended is (added > 0)


def test_tiered_top_n_explanation_value_needed() -> None:
    plan = Plan(
        indicators=WASHER.indicators,
        selection=Selection(SelectionRule.TOP_N, n=3),
        method=Method.TIERED,
    )
    result = run({"washer": plan}, WASHER_ROWS)
    assert result.category("washer").selected_ids() == ["s2", "s1", "s3"]
    ex = explain(result, "s4")  # noise tier 2, standby tier 2; cut profile is s3's (1, 3)
    # Noise to tier 1 (<= 50 dB) gives (1 top, sum 3) = the cut; standby to tier 1 needs
    # at most 2 strictly better among 0.30, 0.30, 0.20, 0.50 -> 0.30.
    assert ex.indicator("noise").value_needed == 50.0
    assert ex.indicator("standby").value_needed == 0.30
    assert ex.cut_rank == 3


# --- composite: benchmark reference, ties, caps ----------------------------------------

FRIDGE = Plan(
    indicators=(
        Indicator("eff", HIGHER, baseline=60, benchmark=100),
        Indicator("noise", LOWER, baseline=60, benchmark=40),
    ),
    selection=Selection(SelectionRule.TOP_N, n=2),
    reference=Reference.BENCHMARK,
)
FRIDGE_ROWS: list[Row] = [
    ("a", "GB-0003", "fridge", {"eff": 100, "noise": 40}),  # s = 1, 1 -> 100
    ("b", "GB-0002", "fridge", {"eff": 80, "noise": 50}),  # 0.5, 0.5 -> 50
    ("c", "GB-0001", "fridge", {"eff": 90, "noise": 55}),  # 0.75, 0.25 -> 50
    ("d", "GB-0004", "fridge", {"eff": 70, "noise": 50}),  # 0.25, 0.5 -> 37.5
    ("e", "GB-0005", "fridge", {"eff": 110, "noise": 70}),  # noise over the baseline
]


def test_composite_ranks_share_ties_1_2_2_4() -> None:
    result = run({"fridge": FRIDGE}, FRIDGE_ROWS)
    by_id = outcomes(result)
    assert {k: v.score for k, v in by_id.items()} == {
        "a": 100.0,
        "b": 50.0,
        "c": 50.0,
        "d": 37.5,
        "e": None,
    }
    assert {k: v.rank for k, v in by_id.items()} == {
        "a": 1,
        "b": 2,
        "c": 2,
        "d": 4,
        "e": None,
    }
    # inside the tie, display order is by standard number: c (GB-0001) before b (GB-0002)
    assert display(result, "fridge") == ["a", "c", "b", "d", "e"]


def test_top_n_cut_inside_tie_takes_whole_tie() -> None:
    cat = run({"fridge": FRIDGE}, FRIDGE_ROWS).category("fridge")
    assert cat.selected_ids() == ["a", "c", "b"]
    sel = cat.selection
    assert (sel.nominal, sel.selected, sel.tie_extended, sel.added) == (2, 3, True, 1)
    assert (sel.cut_score, sel.cut_rank) == (50.0, 2)


def test_top_n_cut_between_ties_is_exact() -> None:
    plan = Plan(FRIDGE.indicators, Selection(SelectionRule.TOP_N, n=3))
    sel = run({"fridge": plan}, FRIDGE_ROWS).category("fridge").selection
    assert (sel.nominal, sel.selected, sel.tie_extended, sel.added) == (3, 3, False, 0)


@pytest.mark.parametrize(
    ("policy", "expected", "added", "dropped"),
    [(CapTies.KEEP, ["a", "c", "b"], 1, 0), (CapTies.DROP, ["a"], 0, 1)],
)
def test_cap_inside_tie(policy: CapTies, expected: list[str], added: int, dropped: int) -> None:
    plan = Plan(FRIDGE.indicators, Selection(SelectionRule.TOP_N, n=4, cap=2, cap_ties=policy))
    cat = run({"fridge": plan}, FRIDGE_ROWS).category("fridge")
    assert cat.selected_ids() == expected
    sel = cat.selection
    assert (sel.nominal, sel.selected, sel.added, sel.cap_dropped) == (
        2,
        len(expected),
        added,
        dropped,
    )


def test_composite_explanation_figures() -> None:
    ex = explain(run({"fridge": FRIDGE}, FRIDGE_ROWS), "d")
    assert (ex.score, ex.rank, ex.selected) == (37.5, 4, False)
    assert (ex.cut_score, ex.cut_rank, ex.score_gap) == (50.0, 2, 12.5)
    eff, noise = ex.indicator("eff"), ex.indicator("noise")
    assert (eff.value, eff.normalised, eff.weight, eff.contribution) == (70.0, 0.25, 0.5, 12.5)
    assert (noise.value, noise.normalised, noise.weight, noise.contribution) == (
        50.0,
        0.5,
        0.5,
        25.0,
    )
    assert eff.contribution is not None
    assert noise.contribution is not None
    assert eff.contribution + noise.contribution == ex.score
    # 12.5 points at weight 0.5 is 0.25 of normalised score: eff 0.5 -> 80, noise 0.75 -> 45
    assert eff.value_needed == 80.0
    assert noise.value_needed == 45.0
    assert (eff.reference, noise.reference) == (100.0, 40.0)


def test_value_needed_really_reaches_the_cut() -> None:
    rows = [
        r if r[0] != "d" else ("d", "GB-0004", "fridge", {"eff": 80, "noise": 50})
        for r in FRIDGE_ROWS
    ]
    by_id = outcomes(run({"fridge": FRIDGE}, rows))
    assert by_id["d"].score == 50.0
    assert by_id["d"].selected


def test_explanation_of_selected_and_ineligible() -> None:
    result = run({"fridge": FRIDGE}, FRIDGE_ROWS)
    top = explain(result, "a")
    assert top.selected
    assert top.score_gap == 0.0
    assert all(i.value_needed is None for i in top.indicators)
    out = explain(result, "e")
    assert not out.eligible
    assert out.score is None
    assert out.indicator("noise").reason is ExclusionReason.BELOW_BASELINE
    assert out.indicator("noise").value == 70.0
    assert out.indicator("eff").reason is None
    assert all(i.value_needed is None and i.tier is None for i in out.indicators)
    with pytest.raises(KeyError):
        explain(result, "nope")


# --- composite references ---------------------------------------------------------------

REF_ROWS: list[Row] = [
    ("p", "N1", "lamp", {"eff": 90}),
    ("q", "N2", "lamp", {"eff": 80}),
    ("r", "N3", "lamp", {"eff": 70}),
    ("s", "N4", "lamp", {"eff": 60}),
]


def _lamp(reference: Reference, benchmark: float | None = None, k: int = 3) -> Plan:
    return Plan(
        indicators=(Indicator("eff", HIGHER, baseline=50, benchmark=benchmark),),
        selection=Selection(SelectionRule.TOP_N, n=1),
        reference=reference,
        reference_k=k,
    )


def _scores(plan: Plan) -> dict[str, float | None]:
    return {k: v.score for k, v in outcomes(run({"lamp": plan}, REF_ROWS)).items()}


def test_reference_benchmark() -> None:
    # reference 100: (x - 50) / 50
    assert _scores(_lamp(Reference.BENCHMARK, benchmark=100)) == {
        "p": 80.0,
        "q": 60.0,
        "r": 40.0,
        "s": 20.0,
    }


def test_reference_benchmark_falls_back_to_best_without_benchmark() -> None:
    expected = {"p": 100.0, "q": 75.0, "r": 50.0, "s": 25.0}  # reference 90: (x - 50) / 40
    assert _scores(_lamp(Reference.BENCHMARK)) == expected
    assert _scores(_lamp(Reference.BEST, benchmark=200)) == expected


def test_reference_top_k_mean() -> None:
    # k = 2: reference (90 + 80) / 2 = 85 -> (x - 50) / 35, clipped at 1
    scores = _scores(_lamp(Reference.TOP_K_MEAN, k=2))
    assert scores["p"] == 100.0
    assert scores["q"] == pytest.approx(600 / 7, abs=1e-12)  # 30/35
    assert scores["r"] == pytest.approx(400 / 7, abs=1e-12)
    assert scores["s"] == pytest.approx(200 / 7, abs=1e-12)


def test_reference_top_k_mean_with_fewer_than_k_clips_into_a_tie() -> None:
    # k = 10 > 4 eligible: mean of all = 75 -> (x - 50) / 25; 90 and 80 both clip to 1
    plan = _lamp(Reference.TOP_K_MEAN, k=10)
    result = run({"lamp": plan}, REF_ROWS)
    by_id = outcomes(result)
    assert {k: v.score for k, v in by_id.items()} == {"p": 100.0, "q": 100.0, "r": 80.0, "s": 40.0}
    assert {k: v.rank for k, v in by_id.items()} == {"p": 1, "q": 1, "r": 3, "s": 4}
    assert result.category("lamp").selected_ids() == ["p", "q"]  # n = 1 takes the tie
    assert explain(result, "r").indicator("eff").reference == 75.0


# --- floating-point noise ------------------------------------------------------------


def test_float_noise_tie() -> None:
    plan = Plan(
        indicators=(
            Indicator("a", HIGHER, baseline=0, benchmark=1),
            Indicator("b", HIGHER, baseline=0, benchmark=1),
        ),
        selection=Selection(SelectionRule.TOP_N, n=2),
    )
    rows = [
        ("top", "T1", "x", {"a": 1.0, "b": 1.0}),
        ("noisy", "T3", "x", {"a": 0.1, "b": 0.2}),  # 0.1 + 0.2 = 0.30000000000000004
        ("clean", "T2", "x", {"a": 0.3, "b": 0.0}),  # 0.3 + 0.0 = 0.3
        ("low", "T4", "x", {"a": 0.0, "b": 0.1}),
    ]
    result = run({"x": plan}, rows)
    by_id = outcomes(result)
    noisy, clean = by_id["noisy"].score, by_id["clean"].score
    assert noisy is not None
    assert clean is not None
    assert noisy != clean  # the raw sums differ in the last bit ...
    assert abs(noisy - clean) < 1e-12
    assert by_id["noisy"].rank == by_id["clean"].rank == 2  # ... and still tie
    assert by_id["low"].rank == 4
    assert display(result, "x") == ["top", "clean", "noisy", "low"]
    sel = result.category("x").selection
    assert (sel.selected, sel.added) == (3, 1)


# --- eligibility: missing, non-finite, pre-excluded ----------------------------------


def test_missing_and_not_finite_reasons() -> None:
    plan = Plan(
        indicators=(
            Indicator("power", LOWER, baseline=1.0),  # standby power, W
            Indicator("eff", HIGHER, baseline=2.0),
        ),
        selection=Selection(SelectionRule.TOP_N, n=1),
    )
    rows: list[Row] = [
        ("ok", "N1", "tv", {"power": 0.5, "eff": 3.0}),
        ("none", "N2", "tv", {"power": None, "eff": 3.0}),
        ("absent", "N3", "tv", {"eff": 3.0}),
        ("nan", "N4", "tv", {"power": float("nan"), "eff": 3.0}),
        ("inf", "N5", "tv", {"power": 0.5, "eff": float("inf")}),
        ("text", "N6", "tv", {"power": "n/a", "eff": 3.0}),
        ("many", "N7", "tv", {"power": 1.5, "eff": None}),
        ("oversight", "N8", "tv", {"power": 0.4, "eff": 1.0}),
    ]
    by_id = outcomes(run({"tv": plan}, rows, excluded={"oversight": "recalled 2024-03"}))

    def reasons(sid: str) -> list[tuple[str, str | None, str | None]]:
        return [(r.reason.value, r.indicator, r.detail) for r in by_id[sid].reasons]

    assert reasons("ok") == []
    assert reasons("none") == [("missing", "power", None)]
    assert reasons("absent") == [("missing", "power", None)]
    assert reasons("nan") == [("not_finite", "power", None)]
    assert reasons("inf") == [("not_finite", "eff", None)]
    assert reasons("text") == [("not_finite", "power", None)]
    assert reasons("many") == [("missing", "eff", None), ("below_baseline", "power", None)]
    assert reasons("oversight") == [
        ("pre_excluded", None, "recalled 2024-03"),
        ("below_baseline", "eff", None),
    ]
    assert [k for k, v in by_id.items() if v.eligible] == ["ok"]


def test_column_batch_nan_is_missing_and_inf_not_finite() -> None:
    plan = Plan((Indicator("v", HIGHER, baseline=0),), Selection(SelectionRule.TOP_N, n=1))
    batch = CandidateBatch(
        standard_ids=np.array(["a", "b", "c"]),
        standard_numbers=np.array(["1", "2", "3"]),
        categories=np.array(["k", "k", "k"]),
        indicator_codes=("v",),
        values=np.array([[1.0], [np.nan], [-np.inf]]),
        plans={"k": plan},
    )
    by_id = outcomes(rank(batch))
    assert [r.reason for r in by_id["b"].reasons] == [ExclusionReason.MISSING]
    assert [r.reason for r in by_id["c"].reasons] == [ExclusionReason.NOT_FINITE]


# --- discrimination and weight renormalisation ---------------------------------------


def test_all_equal_indicator_does_not_discriminate() -> None:
    plan = Plan(
        indicators=(
            Indicator("a", HIGHER, baseline=0, benchmark=10, weight=3),
            Indicator("b", HIGHER, baseline=0, benchmark=10, weight=1),
        ),
        selection=Selection(SelectionRule.TOP_N, n=1),
    )
    rows = [
        ("x", "1", "k", {"a": 10, "b": 5}),
        ("y", "2", "k", {"a": 5, "b": 5}),
        ("z", "3", "k", {"a": 0, "b": 5}),
        ("w", "4", "k", {"a": -1, "b": 9}),  # ineligible: its 9 does not make b discriminate
    ]
    result = run({"k": plan}, rows)
    cat = result.category("k")
    inds = {i.code: i for i in cat.indicators()}
    assert inds["b"].discriminating is False
    assert inds["b"].tiers is None
    assert (inds["a"].weight_used, inds["b"].weight_used) == (1.0, 0.0)
    by_id = outcomes(result)
    assert {k: v.score for k, v in by_id.items()} == {"x": 100.0, "y": 50.0, "z": 0.0, "w": None}
    assert by_id["x"].tiers == {"a": 1, "b": None}
    ex = explain(result, "y")
    assert (ex.indicator("b").weight, ex.indicator("b").contribution) == (0.0, 0.0)
    assert ex.indicator("b").normalised == 0.5


def test_no_indicator_discriminates_uses_plan_weights() -> None:
    plan = Plan(
        indicators=(
            Indicator("a", HIGHER, baseline=0, benchmark=10, weight=3),
            Indicator("b", HIGHER, baseline=0, benchmark=10, weight=1),
        ),
        selection=Selection(SelectionRule.TOP_TIER_ALL),
    )
    result = run({"k": plan}, [("only", "1", "k", {"a": 10, "b": 2})])
    by_id = outcomes(result)
    # (3 * 1.0 + 1 * 0.2) / 4 = 0.8
    assert by_id["only"].score == 80.0
    assert by_id["only"].rank == 1
    assert by_id["only"].selected  # no discriminating indicator: vacuously top everywhere


# --- quantile tiers with ties, explicit cuts -----------------------------------------


def test_quantile_tie_straddling_a_boundary_moves_up_whole() -> None:
    plan = Plan(
        (Indicator("v", HIGHER, baseline=0, tiering=Tiering.quantile(3)),),
        Selection(SelectionRule.TOP_TIER_ALL),
        method=Method.TIERED,
    )
    values = {"a": 10, "b": 9, "c": 9, "d": 9, "e": 8, "f": 7}
    rows = [(k, k, "k", {"v": v}) for k, v in values.items()]
    cat = run({"k": plan}, rows).category("k")
    # n = 6, k = 3: better counts 0, 1, 1, 1, 4, 5 -> tiers 1, 1, 1, 1, 3, 3
    assert cat.tier_lists("v") == (("a", "b", "c", "d"), (), ("e", "f"))
    assert cat.selected_ids() == ["a", "b", "c", "d"]


def test_cut_points_higher_is_better() -> None:
    plan = Plan(
        (Indicator("v", HIGHER, baseline=50, tiering=Tiering.cut_points(70, 80)),),
        Selection(SelectionRule.TOP_TIER_ALL),
        method=Method.TIERED,
    )
    assert plan.indicators[0].tiering.cuts == (80.0, 70.0)  # stored best first
    values = {"a": 85, "b": 80, "c": 79.9, "d": 70, "e": 50, "f": 49.9}
    rows = [(k, k, "k", {"v": v}) for k, v in values.items()]
    cat = run({"k": plan}, rows).category("k")
    assert cat.tier_lists("v") == (("a", "b"), ("c", "d"), ("e",))


# --- selection rules -----------------------------------------------------------------


def _ten(rule: Selection) -> list[str]:
    plan = Plan((Indicator("v", HIGHER, baseline=0, benchmark=100),), rule)
    rows = [(f"c{i}", f"N{i:02d}", "k", {"v": 10.0 * i}) for i in range(1, 11)]
    return run({"k": plan}, rows).category("k").selected_ids()


def test_top_percent_rounds_up_with_exact_arithmetic() -> None:
    # 30 % of 10 is 3, even though 0.3 * 10 is 3.0000000000000004 in floating point
    assert _ten(Selection(SelectionRule.TOP_PERCENT, percent=30)) == ["c10", "c9", "c8"]
    assert _ten(Selection(SelectionRule.TOP_PERCENT, percent=25)) == ["c10", "c9", "c8"]
    assert _ten(Selection(SelectionRule.TOP_PERCENT, percent=20)) == ["c10", "c9"]
    assert _ten(Selection(SelectionRule.TOP_PERCENT, percent=0.1)) == ["c10"]
    assert len(_ten(Selection(SelectionRule.TOP_PERCENT, percent=100))) == 10


def test_top_n_larger_than_field_and_cap() -> None:
    assert len(_ten(Selection(SelectionRule.TOP_N, n=50))) == 10
    assert _ten(Selection(SelectionRule.TOP_N, n=50, cap=2)) == ["c10", "c9"]


def test_composite_with_top_tier_all() -> None:
    plan = Plan(
        indicators=(
            Indicator("a", HIGHER, baseline=0, benchmark=10, tiering=Tiering.cut_points(8)),
            Indicator("b", HIGHER, baseline=0, benchmark=10, tiering=Tiering.cut_points(8)),
        ),
        selection=Selection(SelectionRule.TOP_TIER_ALL),
    )
    rows = [
        ("x", "1", "k", {"a": 10, "b": 2}),  # score 60, not tier 1 on b
        ("y", "2", "k", {"a": 8, "b": 8}),  # score 80
        ("z", "3", "k", {"a": 9, "b": 9}),  # score 90
    ]
    result = run({"k": plan}, rows)
    assert result.category("k").selected_ids() == ["z", "y"]
    ex = explain(result, "x")
    assert ex.indicator("b").value_needed == 8.0
    assert ex.indicator("a").value_needed is None


# --- several categories, several plans, one call -------------------------------------


def test_many_categories_in_one_call_match_separate_runs() -> None:
    plans = {"washer": WASHER, "fridge": FRIDGE}
    together = run(plans, WASHER_ROWS + FRIDGE_ROWS)
    alone = {**outcomes(run({"washer": WASHER}, WASHER_ROWS))}
    alone.update(outcomes(run({"fridge": FRIDGE}, FRIDGE_ROWS)))
    assert outcomes(together) == alone
    assert together.category_codes == ("fridge", "washer")


def test_empty_batch_and_empty_category() -> None:
    result = run({"washer": WASHER}, [])
    cat = result.category("washer")
    assert (cat.n_candidates, cat.n_eligible, cat.selected_ids()) == (0, 0, [])
    assert cat.selection.cut_rank is None
    assert len(result.result_digest()) == 64
    result = run({"washer": WASHER, "fridge": FRIDGE}, FRIDGE_ROWS)
    assert result.category("washer").ranking() == []


def test_to_dict_is_json_ready() -> None:
    import json

    data = run({"fridge": FRIDGE}, FRIDGE_ROWS).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert '"tie_extended": true' in text
    cat = data["categories"][0]
    assert [c["standard_id"] for c in cat["candidates"]] == ["a", "c", "b", "d", "e"]
    assert cat["candidates"][4]["reasons"] == [
        {"reason": "below_baseline", "indicator": "noise", "detail": None}
    ]
    assert math.isclose(cat["indicators"][0]["weight_used"], 0.5)
