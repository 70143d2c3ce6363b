"""The per-indicator passes: eligibility, then each indicator's reference value, whether it
discriminates, normalised scores and tiers. Every category of the batch at once; see
``core`` for the rules and the passes that follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .plan_arrays import PlanArrays, RankContext, ReferenceKind
from .reasons import ReasonCode
from .segments import LayoutCache, descending_key, per_row, segment_starts

__all__ = ["Eligibility", "IndicatorFigures", "eligibility_pass", "indicator_figures"]


# --- 1. eligibility (入围资格) ---------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    eligible: NDArray[np.bool_]  # per row
    reason_codes_t: NDArray[np.int8]  # [m, n] ReasonCode per cell
    count: NDArray[np.int64]  # per category


def eligibility_pass(ctx: RankContext) -> Eligibility:
    """Every core indicator present, finite and at or better than the baseline, and not
    pre-excluded by the caller. Cells a category's plan does not use stay OK."""
    canon, plan, category = ctx.canon, ctx.plan, ctx.category
    better_up = np.empty(ctx.n_rows)  # values turned higher-is-better
    reason_codes_t = np.zeros(canon.values_t.shape, np.int8)
    failed = np.zeros(ctx.n_rows, np.bool_)
    for j in ctx.used_indicators():
        used_by = canon.applies[:, j]
        raw = canon.values_t[j]
        np.multiply(raw, per_row(plan.sign[:, j], category), out=better_up)
        codes = reason_codes_t[j]
        # Later assignments win: missing over not finite over below the baseline.
        with np.errstate(invalid="ignore"):
            codes[better_up < per_row(plan.baseline[:, j], category)] = ReasonCode.BELOW_BASELINE
        codes[~np.isfinite(raw)] = ReasonCode.NOT_FINITE
        codes[canon.missing_t[j]] = ReasonCode.MISSING
        if not used_by.all():
            codes[~used_by[category]] = ReasonCode.OK
        failed |= codes != ReasonCode.OK.value
    eligible = ~failed
    if canon.pre_excluded:
        eligible[np.fromiter(canon.pre_excluded, np.intp, len(canon.pre_excluded))] = False
    count = np.bincount(category[eligible], minlength=ctx.n_categories).astype(np.int64)
    return Eligibility(eligible, reason_codes_t, count)


# --- 2. per indicator: reference, discrimination, normalised scores, tiers (分档) ------


@dataclass(frozen=True)
class IndicatorFigures:
    discriminating: NDArray[np.bool_]  # [C, m]: at least two distinct eligible values
    reference: NDArray[np.float64]  # [C, m], higher-is-better; NaN: nobody eligible
    normalised_t: NDArray[np.float64]  # [m, n] in 0..1; NaN where not computed
    tiers_t: NDArray[np.int16]  # [m, n]; 0: no tier
    layouts: LayoutCache


@dataclass(frozen=True)
class _Column:
    """One indicator's eligible values in the categories that use it, sorted best first
    inside each category. "Position" indexes ``rows``; "sorted" indexes ``best_first``."""

    j: int
    used_by: NDArray[np.bool_]  # per category
    rows: NDArray[np.intp]  # per position: canonical row
    category: NDArray[Any]  # per position (positions and sorted share categories)
    values: NDArray[np.float64]  # per position, higher-is-better
    count: NDArray[np.int64]  # per category: values in the column
    start: NDArray[np.int64]  # per category: first position
    order: NDArray[np.intp]  # per sorted: its position
    best_first: NDArray[np.float64]  # per sorted: value
    segment_start: NDArray[np.int64]  # per position: start of its category
    place: NDArray[np.int64]  # per sorted: 0 for the category's best


def indicator_figures(ctx: RankContext, eligibility: Eligibility) -> IndicatorFigures:
    """One segmented sort per indicator gives its best / top-k values, whether it
    discriminates and, for quantile tiers, how many values are strictly better."""
    n_cat, (m, n) = ctx.n_categories, ctx.canon.values_t.shape
    discriminating = np.zeros((n_cat, m), np.bool_)
    reference = np.full((n_cat, m), np.nan)
    normalised_t = np.full((m, n), np.nan)
    tiers_t = np.zeros((m, n), np.int16)
    layouts = LayoutCache()
    for j in ctx.used_indicators():
        col = _sorted_column(ctx, eligibility, j, layouts)
        has = col.count > 0
        top = np.full(n_cat, np.nan)
        bottom = np.full(n_cat, np.nan)
        top[has] = col.best_first[col.start[has]]
        bottom[has] = col.best_first[col.start[has] + col.count[has] - 1]
        disc = has & (top != bottom)
        ref = np.where(has, _reference_value(ctx.plan, col, top), np.nan)
        discriminating[:, j] = disc
        reference[:, j] = ref
        normalised_t[j][col.rows] = _normalised(ctx.plan, col, ref)
        tiers_t[j][col.rows] = np.where(per_row(disc, col.category), _tiers(ctx, col), 0)
    return IndicatorFigures(discriminating, reference, normalised_t, tiers_t, layouts)


def _sorted_column(
    ctx: RankContext, eligibility: Eligibility, j: int, layouts: LayoutCache
) -> _Column:
    used_by = ctx.canon.applies[:, j]
    eligible = eligibility.eligible
    rows = np.flatnonzero(eligible if used_by.all() else eligible & used_by[ctx.category])
    category = ctx.category_small[rows]
    # + 0.0 turns -0.0 into 0.0, so equal values have equal bits (and equal keys).
    values = ctx.canon.values_t[j][rows] * per_row(ctx.plan.sign[:, j], category) + 0.0
    count = np.where(used_by, eligibility.count, 0)
    start = segment_starts(count)
    # Equal values need no particular order here: everything derived is tie-blind.
    order = layouts.get(count).order(descending_key(values), stable=False)
    segment_start = start[category]
    return _Column(
        j=j,
        used_by=used_by,
        rows=rows,
        category=category,
        values=values,
        count=count,
        start=start,
        order=order,
        best_first=values[order],
        segment_start=segment_start,
        place=np.arange(rows.size) - segment_start,
    )


def _reference_value(
    plan: PlanArrays, col: _Column, best: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per category, the value that scores 1: the benchmark (the best value if none),
    the best value, or the mean of the best k (of all, if fewer than k)."""
    kind, j = plan.reference, col.j
    benchmark = plan.benchmark[:, j]
    use_benchmark = (kind == ReferenceKind.BENCHMARK.value) & ~np.isnan(benchmark)
    ref = np.where(use_benchmark, benchmark, best)
    top_k = (col.count > 0) & (kind == ReferenceKind.TOP_K_MEAN.value)
    if top_k.any():
        take = (col.place < plan.reference_k[col.category]) & top_k[col.category]
        # bincount adds each category's values in its own best-first order: the sum
        # does not depend on the other categories of the batch.
        sums = np.bincount(col.category[take], weights=col.best_first[take], minlength=best.size)
        mean = sums / np.maximum(np.minimum(plan.reference_k, col.count), 1)
        ref = np.where(top_k, mean, ref)
    return ref


def _normalised(
    plan: PlanArrays, col: _Column, reference: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per position: clip((x - baseline) / (reference - baseline), 0, 1)."""
    baseline = plan.baseline[:, col.j]
    span = per_row(reference - baseline, col.category)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.clip((col.values - per_row(baseline, col.category)) / span, 0.0, 1.0)
    # A reference not above the baseline means every eligible value sits at the
    # baseline (best / top-k references): everyone is at the reference.
    out: NDArray[np.float64] = np.where(span > 0, s, 1.0)
    return out


def _tiers(ctx: RankContext, col: _Column) -> NDArray[np.int64]:
    """Per position, the tier (1 is best) by quantile position or by cut points."""
    plan, j = ctx.plan, col.j
    quantiles = per_row(plan.quantiles[:, j], col.category)
    tier = np.zeros(col.rows.size, np.int64)
    if (plan.quantiles[col.used_by, j] > 0).any():
        # tier = 1 + floor(k * b / n), b = number of strictly better values: the sorted
        # place of the first of each run of equal values.
        run_start = col.place == 0
        run_start[1:] |= col.best_first[1:] != col.best_first[:-1]
        first_of_run = np.where(run_start, np.arange(col.rows.size), 0)
        better = np.maximum.accumulate(first_of_run) - col.segment_start
        tier_sorted = 1 + (quantiles * better) // np.maximum(col.count[col.category], 1)
        tier[col.order] = tier_sorted
    n_cuts = int(plan.n_cuts[:, j].max(initial=0))
    if n_cuts:
        # 1 + the number of cut points the value is strictly worse than.
        by_cuts = np.ones(col.rows.size, np.int64)
        for k in range(n_cuts):
            by_cuts += col.values < per_row(plan.cuts[:, j, k], col.category)
        tier = np.where(quantiles > 0, tier, by_cuts)
    return tier
