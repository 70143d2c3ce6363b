"""The vectorised engine against a plain per-category Python implementation of the rules.

The oracle is written straight from the rules, one category and one candidate at a time,
with no numpy tricks, so that a bug in the segmented sorts, the padding or the scatter /
gather bookkeeping shows up as a disagreement.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings

from services.ranking.engine import (
    TIE_TOLERANCE,
    CandidateBatch,
    CapTies,
    Direction,
    Indicator,
    Method,
    Plan,
    Reference,
    Selection,
    SelectionRule,
    Tiering,
    rank,
)

from .test_properties import batches


@dataclass
class Expected:
    eligible: bool
    tiers: dict[str, int]
    score: float | None
    rank: int | None
    selected: bool


def _oracle_category(batch: CandidateBatch, code: str, plan: Plan) -> dict[str, Expected]:
    missing = np.isnan(batch.values) if batch.missing is None else batch.missing
    col = {c: j for j, c in enumerate(batch.indicator_codes)}
    rows = [i for i in range(len(batch)) if batch.categories[i] == code]
    sid = {i: str(batch.standard_ids[i]) for i in rows}

    def ok(i: int) -> bool:
        if sid[i] in batch.excluded:
            return False
        for ind in plan.indicators:
            j = col[ind.code]
            v = float(batch.values[i, j])
            if missing[i, j] or not math.isfinite(v) or ind.sign * v < ind.sign * ind.baseline:
                return False
        return True

    elig = [i for i in rows if ok(i)]
    n = len(elig)
    tiers: dict[int, dict[str, int]] = {i: {} for i in elig}
    norm: dict[int, dict[str, float]] = {i: {} for i in elig}
    disc: dict[str, bool] = {}
    for ind in plan.indicators:
        x = {i: ind.sign * float(batch.values[i, col[ind.code]]) + 0.0 for i in elig}
        desc = sorted(x.values(), reverse=True)
        asc = sorted(x.values())
        disc[ind.code] = len(set(desc)) >= 2
        base = ind.sign * ind.baseline + 0.0
        if plan.reference is Reference.TOP_K_MEAN and desc:
            top = desc[: plan.reference_k]
            ref = sum(top) / len(top)
        elif plan.reference is Reference.BENCHMARK and ind.benchmark is not None:
            ref = ind.sign * ind.benchmark + 0.0
        else:
            ref = desc[0] if desc else math.nan
        for i in elig:
            norm[i][ind.code] = (
                min(max((x[i] - base) / (ref - base), 0.0), 1.0) if ref - base > 0 else 1.0
            )
            if not disc[ind.code]:
                continue
            if ind.tiering.quantiles is not None:
                better = n - bisect.bisect_right(asc, x[i])
                tiers[i][ind.code] = 1 + (ind.tiering.quantiles * better) // n
            else:
                cuts = [ind.sign * c for c in ind.tiering.cuts]
                tiers[i][ind.code] = 1 + sum(1 for c in cuts if x[i] < c)

    pool = [ind for ind in plan.indicators if disc[ind.code]] or list(plan.indicators)
    total = sum(ind.weight for ind in pool)
    tiered = plan.method is Method.TIERED
    key: dict[int, float] = {}
    score: dict[int, float | None] = {}
    for i in elig:
        if tiered:
            n_top = sum(1 for t in tiers[i].values() if t == 1)
            key[i] = n_top * 2.0**24 - sum(tiers[i].values())
            score[i] = None
        else:
            s = sum(ind.weight * norm[i][ind.code] for ind in pool)
            key[i] = score[i] = 100.0 * (s / total)

    # Rank: sort best first, a key within the tolerance of the previous one ties with it.
    ordered = sorted(elig, key=lambda i: -key[i])
    group_start: dict[int, int] = {}
    start = 0
    for p, i in enumerate(ordered):
        if p and key[ordered[p - 1]] - key[i] > TIE_TOLERANCE:
            start = p
        group_start[i] = start
    ranking = {i: group_start[i] + 1 for i in elig}
    groups = sorted(set(group_start.values()))
    members = {g: [i for i in elig if group_start[i] == g] for g in groups}

    # Selection.
    sel = plan.selection
    in_rank_order = [i for g in groups for i in members[g]]
    if sel.rule is SelectionRule.TOP_TIER_ALL:
        base_sel = [i for i in in_rank_order if all(t == 1 for t in tiers[i].values())]
    else:
        if sel.rule is SelectionRule.TOP_N:
            assert sel.n is not None
            want = min(sel.n, n)
        else:
            assert sel.percent is not None
            want = min(math.ceil(round(sel.percent * 1_000_000) * n / 100_000_000), n)
        base_sel = []
        for g in groups:
            if len(base_sel) >= want:
                break
            base_sel += members[g]
    chosen = set(base_sel)
    if sel.cap is not None and len(base_sel) > sel.cap:
        inside = base_sel[: sel.cap]
        boundary = group_start[inside[-1]]
        split = group_start[base_sel[sel.cap]] == boundary
        if sel.cap_ties is CapTies.KEEP:
            chosen = set(inside) | {i for i in base_sel if group_start[i] == boundary}
        else:
            chosen = {i for i in inside if not (split and group_start[i] == boundary)}

    out = {}
    for i in rows:
        if i in tiers:
            out[sid[i]] = Expected(True, tiers[i], score[i], ranking[i], i in chosen)
        else:
            out[sid[i]] = Expected(False, {}, None, None, False)
    return out


def _compare(batch: CandidateBatch) -> None:
    result = rank(batch)
    for code, plan in batch.plans.items():
        expected = _oracle_category(batch, code, plan)
        got = {o.standard_id: o for o in result.category(code).ranking()}
        assert set(got) == set(expected)
        for sid, exp in expected.items():
            o = got[sid]
            assert o.eligible == exp.eligible, sid
            assert {k: v for k, v in o.tiers.items() if v is not None} == exp.tiers, sid
            if exp.score is None:
                assert o.score is None
            else:
                assert o.score is not None
                assert math.isclose(o.score, exp.score, rel_tol=0, abs_tol=1e-9), sid
            assert o.rank == exp.rank, sid
            assert o.selected == exp.selected, sid


@settings(max_examples=80, deadline=None)
@given(batches(max_rows=40))
def test_engine_matches_oracle_on_small_batches(batch: CandidateBatch) -> None:
    _compare(batch)


def _random_plan(rng: np.random.Generator) -> Plan:
    indicators = []
    for code in ("E", "N", "P", "W"):
        if rng.random() < 0.25:
            continue
        higher = bool(rng.random() < 0.5)
        sign = 1.0 if higher else -1.0
        baseline = 20.0 if higher else 80.0
        if rng.random() < 0.5:
            tiering = Tiering.quantile(int(rng.integers(2, 6)))
        else:
            tiering = Tiering.cut_points(*(baseline + sign * c for c in (10.0, 25.0, 40.0)))
        indicators.append(
            Indicator(
                code,
                Direction.HIGHER if higher else Direction.LOWER,
                baseline=baseline,
                benchmark=baseline + sign * 45.0 if rng.random() < 0.5 else None,
                weight=float(rng.integers(1, 4)),
                tiering=tiering,
            )
        )
    if not indicators:
        indicators.append(Indicator("E", Direction.HIGHER, baseline=20.0))
    rule = SelectionRule(rng.choice([r.value for r in SelectionRule]))
    return Plan(
        tuple(indicators),
        Selection(
            rule,
            n=int(rng.integers(1, 30)) if rule is SelectionRule.TOP_N else None,
            percent=float(rng.choice([5.0, 12.5, 30.0]))
            if rule is SelectionRule.TOP_PERCENT
            else None,
            cap=int(rng.integers(1, 20)) if rng.random() < 0.4 else None,
            cap_ties=CapTies(rng.choice([c.value for c in CapTies])),
        ),
        method=Method(rng.choice([m.value for m in Method])),
        reference=Reference(rng.choice([r.value for r in Reference])),
        reference_k=int(rng.integers(1, 6)),
    )


def test_engine_matches_oracle_on_skewed_categories() -> None:
    """Categories from 1 to ~1,500 candidates, so the padded sort blocks of many widths
    (and single-segment blocks) are all used."""
    rng = np.random.default_rng(20240611)
    fixed = [1, 2, 3, 5, 7, 13, 40, 97, 100, 190, 257, 511, 700, 1500]
    sizes = [*fixed, *rng.integers(1, 60, 30).tolist()]
    codes = [f"C{c:03d}" for c in range(len(sizes))]
    cats = np.repeat(np.array(codes), sizes)
    n = cats.size
    values = np.round(rng.normal(50.0, 15.0, (n, 4)), 0)  # integers: plenty of ties
    values[rng.random((n, 4)) < 0.01] = np.nan
    perm = rng.permutation(n)
    batch = CandidateBatch(
        standard_ids=np.array([f"id{i:05d}" for i in range(n)])[perm],
        standard_numbers=np.array([f"Q/{int(k):04d}" for k in rng.integers(0, 3000, n)]),
        categories=cats[perm],
        indicator_codes=("E", "N", "P", "W"),
        values=values,
        plans={code: _random_plan(rng) for code in codes},
        excluded={f"id{i:05d}": "oversight" for i in rng.integers(0, n, 20)},
    )
    _compare(batch)
