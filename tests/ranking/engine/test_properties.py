"""Property-based tests of the engine's invariants on small random batches.

Values come from a coarse grid so that ties, values at the baseline and values at cut
points are common.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ranking.engine import (
    CandidateBatch,
    CapTies,
    Direction,
    EngineResult,
    Indicator,
    Method,
    Plan,
    Reference,
    Selection,
    SelectionRule,
    Tiering,
    rank,
)

from .helpers import outcomes

CODES = ("A", "B", "C")
GRID = [x / 2 for x in range(0, 21)]  # 0, 0.5, ..., 10
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def indicators(draw: st.DrawFn, code: str) -> Indicator:
    direction = draw(st.sampled_from(Direction))
    if direction is Direction.HIGHER:
        baseline = draw(st.sampled_from([0.0, 2.0, 3.0]))
        benchmark = draw(st.sampled_from([None, 8.0, 12.0]))
        cut_pool = [4.0, 6.0, 9.0]
    else:
        baseline = draw(st.sampled_from([7.0, 8.0, 10.0]))
        benchmark = draw(st.sampled_from([None, 1.0, -2.0]))
        cut_pool = [2.0, 4.0, 6.0]
    if draw(st.booleans()):
        tiering = Tiering.quantile(draw(st.integers(2, 4)))
    else:
        cuts = draw(st.lists(st.sampled_from(cut_pool), min_size=1, max_size=3, unique=True))
        tiering = Tiering.cut_points(*cuts)
    return Indicator(
        code=code,
        direction=direction,
        baseline=baseline,
        benchmark=benchmark,
        weight=draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])),
        tiering=tiering,
    )


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    codes = draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=3, unique=True))
    rule = draw(st.sampled_from(SelectionRule))
    selection = Selection(
        rule=rule,
        n=draw(st.integers(1, 6)) if rule is SelectionRule.TOP_N else None,
        percent=(
            draw(st.sampled_from([10.0, 25.0, 30.0, 33.3, 50.0, 100.0]))
            if rule is SelectionRule.TOP_PERCENT
            else None
        ),
        cap=draw(st.one_of(st.none(), st.integers(1, 4))),
        cap_ties=draw(st.sampled_from(CapTies)),
    )
    return Plan(
        indicators=tuple(draw(indicators(c)) for c in codes),
        selection=selection,
        method=draw(st.sampled_from(Method)),
        reference=draw(st.sampled_from(Reference)),
        reference_k=draw(st.integers(1, 3)),
    )


CELL = st.one_of(
    st.sampled_from(GRID).map(float),
    st.sampled_from(GRID).map(float),
    st.sampled_from(GRID).map(float),
    st.sampled_from([math.nan, math.inf, -math.inf, None]),
)


@st.composite
def batches(draw: st.DrawFn, max_rows: int = 24) -> CandidateBatch:
    n_cat = draw(st.integers(1, 3))
    cat_plans = {f"K{c}": draw(plans()) for c in range(n_cat)}
    n = draw(st.integers(0, max_rows))
    cats = [f"K{draw(st.integers(0, n_cat - 1))}" for _ in range(n)]
    cells = [[draw(CELL) for _ in CODES] for _ in range(n)]
    values = np.array(
        [[math.nan if v is None else v for v in row] for row in cells], dtype=np.float64
    ).reshape(n, len(CODES))
    missing = np.array([[v is None for v in row] for row in cells], dtype=np.bool_).reshape(
        n, len(CODES)
    )
    numbers = [f"N{draw(st.integers(0, 5))}" for _ in range(n)]
    ids = [f"id{i:03d}" for i in range(n)]
    excluded = {i: "oversight" for i in ids if draw(st.integers(0, 9)) == 0}
    return CandidateBatch(
        standard_ids=np.array(ids, dtype=np.str_),
        standard_numbers=np.array(numbers, dtype=np.str_),
        categories=np.array(cats, dtype=np.str_),
        indicator_codes=CODES,
        values=values,
        plans=cat_plans,
        missing=missing,
        excluded=excluded,
    )


def _shuffled(batch: CandidateBatch, rng: np.random.Generator) -> CandidateBatch:
    rows = rng.permutation(len(batch))
    cols = rng.permutation(len(batch.indicator_codes))
    assert batch.missing is not None
    return CandidateBatch(
        standard_ids=batch.standard_ids[rows],
        standard_numbers=batch.standard_numbers[rows],
        categories=batch.categories[rows],
        indicator_codes=tuple(batch.indicator_codes[j] for j in cols),
        values=batch.values[rows][:, cols],
        plans=dict(reversed(list(batch.plans.items()))),
        missing=batch.missing[rows][:, cols],
        excluded=dict(reversed(list(batch.excluded.items()))),
    )


def _rows_of(result: EngineResult, category: str) -> list[int]:
    return list(result.category(category).rows)


@SETTINGS
@given(batches(), st.integers(0, 2**32 - 1))
def test_permutation_invariance(batch: CandidateBatch, seed: int) -> None:
    first = rank(batch)
    again = rank(_shuffled(batch, np.random.default_rng(seed)))
    assert again.input_digest() == first.input_digest()
    assert again.result_digest() == first.result_digest()
    assert outcomes(again) == outcomes(first)


@SETTINGS
@given(batches())
def test_eligibility_and_score_range(batch: CandidateBatch) -> None:
    result = rank(batch)
    for cat in result.categories():
        plan = cat.plan
        for row in cat.rows:
            eligible = bool(result.eligible[row])
            assert eligible == (not result.reasons(row))
            score = float(result.scores[row])
            if not eligible:
                assert math.isnan(score)
                assert int(result.ranks[row]) == 0
                assert not result.selected[row]
                continue
            for ind in plan.indicators:
                v = float(result.values[row, result.indicator_codes.index(ind.code)])
                assert math.isfinite(v)
                assert ind.sign * v >= ind.sign * ind.baseline
            if plan.method is Method.TIERED:
                assert math.isnan(score)
            else:
                assert 0.0 <= score <= 100.0
            assert int(result.ranks[row]) >= 1


@SETTINGS
@given(batches())
def test_ties_share_tiers_and_ranks(batch: CandidateBatch) -> None:
    result = rank(batch)
    for cat in result.categories():
        cols = [result.indicator_codes.index(c) for c in cat.plan.codes]
        rows = [r for r in cat.rows if result.eligible[r]]
        for a in rows:
            for b in rows:
                same_all = True
                for j in cols:
                    if result.values[a, j] == result.values[b, j]:
                        assert result.tiers[a, j] == result.tiers[b, j]
                    else:
                        same_all = False
                if same_all:
                    assert result.ranks[a] == result.ranks[b]
                    assert np.array_equal(result.scores[[a]], result.scores[[b]], equal_nan=True)
                    assert result.selected[a] == result.selected[b]


@SETTINGS
@given(batches())
def test_ranks_follow_scores_and_are_competition_ranks(batch: CandidateBatch) -> None:
    result = rank(batch)
    for cat in result.categories():
        order = [int(r) for r in cat.display_rows() if result.eligible[r]]
        ranks = [int(result.ranks[r]) for r in order]
        assert ranks == sorted(ranks)
        for pos, r in enumerate(ranks):
            # competition rank: a new rank value equals its 1-based position
            if pos == 0 or r != ranks[pos - 1]:
                assert r == pos + 1
        if cat.plan.method is Method.COMPOSITE:
            for a in order:
                for b in order:
                    sa, sb = float(result.scores[a]), float(result.scores[b])
                    if sa > sb + 1e-6:
                        assert result.ranks[a] < result.ranks[b]
                    if abs(sa - sb) < 1e-12:
                        assert result.ranks[a] == result.ranks[b]


@SETTINGS
@given(batches())
def test_selection_takes_whole_ties(batch: CandidateBatch) -> None:
    result = rank(batch)
    for cat in result.categories():
        sel = cat.plan.selection
        outcome = cat.selection
        rows = [r for r in cat.rows if result.eligible[r]]
        chosen = [r for r in rows if result.selected[r]]
        assert outcome.selected == len(chosen)
        assert outcome.added == max(outcome.selected - outcome.nominal, 0)
        if sel.cap is not None and sel.cap_ties is CapTies.DROP:
            assert outcome.selected <= sel.cap
        if sel.rule is SelectionRule.TOP_TIER_ALL:
            top_all = [
                r
                for r in rows
                if all(
                    result.tiers[r, j] in (1, 0)
                    for j in (result.indicator_codes.index(c) for c in cat.plan.codes)
                )
            ]
            assert set(chosen) <= set(top_all)
            if sel.cap is None:
                assert set(chosen) == set(top_all)
            group_of = {r: result.ranks[r] for r in top_all}
        else:
            group_of = {r: result.ranks[r] for r in rows}
            if chosen:
                # a prefix of the rank order
                worst_in = max(int(result.ranks[r]) for r in chosen)
                assert all(int(result.ranks[r]) > worst_in for r in rows if not result.selected[r])
            if sel.cap is None or sel.cap_ties is CapTies.KEEP:
                assert outcome.selected >= outcome.nominal
        # no tie is split: the same rank is either all in or all out
        for a in group_of:
            for b in group_of:
                if group_of[a] == group_of[b]:
                    assert result.selected[a] == result.selected[b]


@SETTINGS
@given(batches())
def test_weights_renormalise_over_discriminating_indicators(batch: CandidateBatch) -> None:
    result = rank(batch)
    for cat in result.categories():
        c = cat.index
        cols = {code: result.indicator_codes.index(code) for code in cat.plan.codes}
        used = {code: float(result.weights_used[c, j]) for code, j in cols.items()}
        disc = {code: bool(result.discriminating[c, j]) for code, j in cols.items()}
        assert math.isclose(sum(used.values()), 1.0, rel_tol=0, abs_tol=1e-12)
        pool = [code for code in cols if disc[code]] or list(cols)
        total = sum(cat.plan.indicator(code).weight for code in pool)
        for code in cols:
            expected = cat.plan.indicator(code).weight / total if code in pool else 0.0
            assert math.isclose(used[code], expected, rel_tol=1e-12, abs_tol=0)
            if not disc[code]:
                assert all(result.tiers[r, cols[code]] == 0 for r in cat.rows)
        if cat.plan.method is Method.COMPOSITE:
            for r in cat.rows:
                if result.eligible[r]:
                    parts = sum(float(result.contributions[r, j]) for j in cols.values())
                    assert math.isclose(parts, float(result.scores[r]), abs_tol=1e-9)


def _improve(batch: CandidateBatch, row: int, j: int, delta: float) -> CandidateBatch:
    values = batch.values.copy()
    values[row, j] += delta
    return replace(batch, values=values)


@SETTINGS
@given(batches(), st.data())
def test_monotonicity(batch: CandidateBatch, data: st.DataObject) -> None:
    before = rank(batch)
    eligible = [r for r in range(len(before)) if before.eligible[r]]
    if not eligible:
        return
    row = data.draw(st.sampled_from(eligible))
    sid = str(before.standard_ids[row])
    c = int(before.category_index[row])
    plan = before.plans[c]
    ind = data.draw(st.sampled_from(plan.indicators))
    delta = data.draw(st.sampled_from([0.5, 1.0, 3.0]))
    j_in = batch.indicator_codes.index(ind.code)
    in_row = int(np.flatnonzero(batch.standard_ids == sid)[0])
    after = rank(_improve(batch, in_row, j_in, ind.sign * delta))
    row_after = after.row_of(sid)
    assert after.eligible[row_after]
    assert after.ranks[row_after] <= before.ranks[row]
    j = before.indicator_codes.index(ind.code)
    if before.discriminating[c, j] and after.discriminating[c, j]:
        assert after.tiers[row_after, j] <= before.tiers[row, j]
    if plan.method is Method.COMPOSITE and np.array_equal(
        before.discriminating[c], after.discriminating[c]
    ):
        # with the same discriminating set the weights are the same: the score can not drop
        assert after.scores[row_after] >= before.scores[row] - 1e-9


@SETTINGS
@given(batches())
def test_categories_do_not_influence_each_other(batch: CandidateBatch) -> None:
    together = outcomes(rank(batch))
    for code, plan in batch.plans.items():
        mask = batch.categories == code
        assert batch.missing is not None
        alone = CandidateBatch(
            standard_ids=batch.standard_ids[mask],
            standard_numbers=batch.standard_numbers[mask],
            categories=batch.categories[mask],
            indicator_codes=batch.indicator_codes,
            values=batch.values[mask],
            plans={code: plan},
            missing=batch.missing[mask],
            excluded=batch.excluded,
        )
        for sid, outcome in outcomes(rank(alone)).items():
            assert together[sid] == outcome
