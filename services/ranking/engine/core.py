"""The ranking passes. ``rank_canonical`` runs them in order, each over every category of
the batch at once (no loop per category or per standard):

1. eligibility (``indicators``): which rows may rank, and a ``ReasonCode`` per cell;
2. indicator figures (``indicators``): per indicator, one segmented sort gives the
   reference value, whether it discriminates, the normalised scores and the tiers;
3. scores: renormalised weights, composite scores, tier profiles;
4. ranks: rank order, tie groups, competition ranks;
5. selection: the rule's pick widened to whole ties, then the cap;
6. display order.

Rules (all deterministic; see also the package docstring):

* Work happens in the canonical row order (category, standard number, standard id), so
  shuffled inputs give identical output.
* Values are turned "higher is better" by multiplying by the indicator's sign (-1 for
  lower-is-better); negation is exact, so no information is lost.
* Eligibility: every core indicator of the candidate's plan has a finite value at or better
  than the baseline, and the caller did not pre-exclude it.
* Tiers (1 is best), computed among the eligible candidates of a category and only for a
  discriminating indicator (at least two distinct eligible values):
  - cut points: tier = 1 + number of cuts the value is strictly worse than;
  - k quantiles: tier = 1 + floor(k * b / n), b = number of eligible values strictly better,
    n = number of eligible candidates. Equal values share b, so they always share a tier; a
    tie that straddles a quantile boundary goes up whole into the better tier.
* Composite: per indicator s = clip((x - baseline) / (reference - baseline), 0, 1) (1 if
  the reference is not above the baseline); weights renormalised over the discriminating
  indicators (over all the plan's indicators if none discriminates);
  score = 100 * sum(w * s) / sum(w), summed in indicator-code order.
* Rank: competition rank (1, 2, 2, 4). Sorted by score, a score within TIE_TOLERANCE of the
  previous one joins its tie (chained). Tiered plans rank by tier profile: more tier-1
  indicators first, then a smaller sum of tiers. Inside a tie the display order is standard
  number, then standard id.
* Selection: top_n takes min(n, eligible); top_percent takes ceil(p % of eligible) in exact
  integer arithmetic (p to 1e-6); top_tier_all takes everyone in tier 1 on every
  discriminating indicator (everyone eligible if none discriminates). A cut that falls
  inside a tie takes the whole tie; a cap keeps or drops a tie that straddles it according
  to ``Selection.cap_ties``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .canonical import Canonical, canonicalise
from .indicators import Eligibility, IndicatorFigures, eligibility_pass, indicator_figures
from .model import CandidateBatch
from .plan_arrays import PERCENT_SCALE, PlanArrays, RankContext, RuleKind
from .result import EngineResult
from .segments import LayoutCache, descending_key, per_row, segment_starts

__all__ = ["ENGINE_VERSION", "TIE_TOLERANCE", "rank"]

ENGINE_VERSION = "1.0.0"

# Two scores (0-100 scale) closer than this are the same score. Float noise from a weighted
# sum is ~1e-14 on this scale; real differences a committee would act on are >= 1e-6.
TIE_TOLERANCE = 1e-9

# Tiered rank key = (number of tier-1 indicators) * base - (sum of tiers). The base exceeds
# any possible sum of tiers, and the key stays an exact integer in float64.
PROFILE_BASE = 2.0**24


def rank(batch: CandidateBatch) -> EngineResult:
    """Rank every category of the batch in one vectorised pass.

    Plain synchronous CPU work: a service should run it in a worker thread or process.
    """
    return rank_canonical(canonicalise(batch))


def rank_canonical(canon: Canonical) -> EngineResult:
    """The passes, in order; each covers every category of the batch at once."""
    ctx = RankContext.of(canon)
    eligibility = eligibility_pass(ctx)
    figures = indicator_figures(ctx, eligibility)
    scores = _scores(ctx, eligibility, figures)
    ranking = _ranking(ctx, eligibility, scores, figures.layouts)
    chosen = _selection(ctx, eligibility, scores, ranking)
    return EngineResult(
        engine_version=ENGINE_VERSION,
        canonical=canon,
        eligible=eligibility.eligible,
        reason_codes=eligibility.reason_codes_t.T,
        tiers=figures.tiers_t.T,
        normalised=figures.normalised_t.T,
        scores=scores.score,
        ranks=ranking.ranks,
        selected=chosen.selected,
        display_order=_display_order(ctx, eligibility, ranking),
        discriminating=figures.discriminating,
        weights_used=scores.weights_used,
        references=np.where(canon.applies, figures.reference * ctx.plan.sign, np.nan) + 0.0,
        n_eligible=eligibility.count,
        nominal=chosen.nominal.astype(np.int64),
        selected_count=chosen.count.astype(np.int64),
        cut_row=chosen.cut_row,
        tier_profile=scores.tier_profile.astype(np.float64),
    )


# --- 3. scores (综合评分) and tier profiles ----------------------------------------------


@dataclass(frozen=True)
class _Scores:
    weights_used: NDArray[np.float64]  # [C, m], renormalised; NaN where not applicable
    score: NDArray[np.float64]  # per row, 0-100; NaN for tiered plans and ineligible rows
    tier_profile: NDArray[np.float64]  # per row: tier-1 count * PROFILE_BASE - sum of tiers
    all_tier_one: NDArray[np.bool_]  # per row: tier 1 on every discriminating indicator
    tiered: Any  # per row (or one bool for all): the plan ranks by tier profile


def _scores(ctx: RankContext, eligibility: Eligibility, figures: IndicatorFigures) -> _Scores:
    """Weights renormalised over the discriminating indicators (over all the plan's
    indicators if none discriminates); score = 100 * sum(w * s) / sum(w)."""
    applies, weight, category = ctx.canon.applies, ctx.plan.weight, ctx.category
    w = np.where(applies & figures.discriminating, weight, 0.0)
    none_disc = w.sum(axis=1) == 0
    w[none_disc] = np.where(applies[none_disc], weight[none_disc], 0.0)
    w_sum = w.sum(axis=1)
    w_sum = np.where(w_sum > 0, w_sum, 1.0)
    weights_used = np.where(applies, w / w_sum[:, None], np.nan)
    weighted = np.zeros(ctx.n_rows)  # summed in indicator-code order
    for j in ctx.used_indicators():
        used_by = applies[:, j]
        part = per_row(w[:, j], category) * figures.normalised_t[j]
        weighted += part if used_by.all() else np.where(used_by[category], part, 0.0)
    tiered = per_row(ctx.plan.tiered, category)
    # Divide once by the raw weight total: equal weights at the reference give exactly 100.
    score = np.where(
        eligibility.eligible & ~tiered,
        100.0 * (weighted / per_row(w_sum, category)) + 0.0,
        np.nan,
    )
    tiers_t = figures.tiers_t
    n_tier_one = (tiers_t == 1).sum(axis=0)
    all_tier_one = (tiers_t > 1).sum(axis=0) == 0
    profile = n_tier_one * PROFILE_BASE - tiers_t.sum(axis=0, dtype=np.int64)
    return _Scores(weights_used, score, profile, all_tier_one, tiered)


# --- 4. ranks: competition ranks (1, 2, 2, 4) with ties inside TIE_TOLERANCE --------------


@dataclass(frozen=True)
class _Ranking:
    """The eligible rows in rank order, category by category. "Ranked" arrays have one
    entry per eligible row, in that order."""

    rows: NDArray[np.intp]  # per ranked: canonical row
    category: NDArray[Any]  # per ranked
    place: NDArray[np.int64]  # per ranked: 0 for the category's first
    category_start: NDArray[np.int64]  # per category: its first ranked entry
    tie: NDArray[np.int64]  # per ranked: tie group, numbered over the whole batch
    tie_end: NDArray[np.int64]  # per ranked: one past the last entry of its tie group
    ranks: NDArray[np.int32]  # per row; 0: not ranked


def _ranking(
    ctx: RankContext, eligibility: Eligibility, scores: _Scores, layouts: LayoutCache
) -> _Ranking:
    """Sort by score (tiered plans: by tier profile), best first; a key within
    TIE_TOLERANCE of the one before joins its tie (chained). Stable, so equal keys keep
    the canonical (standard number, id) order, which is the display order inside a tie."""
    eligible_rows = np.flatnonzero(eligibility.eligible)
    n_ranked = eligible_rows.size
    key = np.where(scores.tiered, scores.tier_profile, scores.score)[eligible_rows] + 0.0
    category = ctx.category_small[eligible_rows]
    order = layouts.get(eligibility.count).order(descending_key(key), stable=True)
    key_sorted = key[order]
    category_start = segment_starts(eligibility.count)
    place = np.arange(n_ranked) - category_start[category]
    new_tie = place == 0
    new_tie[1:] |= (key_sorted[:-1] - key_sorted[1:]) > TIE_TOLERANCE
    tie = np.cumsum(new_tie) - 1
    if (~new_tie[1:] & (key_sorted[1:] != key_sorted[:-1])).any():
        # Chained near-equal scores: put those ties back in number/id order.
        order = order[np.argsort(tie * max(n_ranked, 1) + order, kind="stable")]
    tie_start = np.flatnonzero(new_tie)
    ranked_rows = eligible_rows[order]
    ranks = np.zeros(ctx.n_rows, np.int32)
    ranks[ranked_rows] = tie_start[tie] - category_start[category] + 1
    return _Ranking(
        rows=ranked_rows,
        category=category,
        place=place,
        category_start=category_start,
        tie=tie,
        tie_end=np.append(tie_start[1:], n_ranked)[tie],
        ranks=ranks,
    )


# --- 5. selection (遴选) -----------------------------------------------------------------


@dataclass(frozen=True)
class _Chosen:
    selected: NDArray[np.bool_]  # per row
    nominal: NDArray[np.int64]  # per category: what the rule asks for, within the cap
    count: NDArray[np.int64]  # per category: how many were selected
    cut_row: NDArray[np.intp]  # per category: last selected row in rank order; -1: none


def _selection(
    ctx: RankContext, eligibility: Eligibility, scores: _Scores, ranking: _Ranking
) -> _Chosen:
    """The rule's pick, widened to whole ties, then the cap (which keeps or drops a tie
    it falls inside)."""
    plan, n_cat = ctx.plan, ctx.n_categories
    by_rank = plan.rule != RuleKind.TOP_TIER_ALL.value  # top_n / top_percent: a rank prefix
    wanted = _wanted(plan, eligibility.count, by_rank)
    picked = _rule_pick(ranking, scores, by_rank, wanted)
    picked_count = np.bincount(ranking.category[picked], minlength=n_cat)
    keep = _apply_cap(plan, ranking, picked, picked_count)
    nominal = np.where(by_rank, wanted, picked_count)
    nominal = np.where(plan.cap > 0, np.minimum(nominal, plan.cap), nominal)
    selected = np.zeros(ctx.n_rows, np.bool_)
    selected[ranking.rows[keep]] = True
    cut_row = np.full(n_cat, -1, np.intp)
    kept = np.flatnonzero(keep)
    if kept.size:
        kept_category = ranking.category[kept]
        last = np.append(kept_category[1:] != kept_category[:-1], True)
        cut_row[kept_category[last]] = ranking.rows[kept[last]]
    count = np.bincount(ranking.category[keep], minlength=n_cat)
    return _Chosen(selected, nominal, count, cut_row)


def _wanted(
    plan: PlanArrays, n_eligible: NDArray[np.int64], by_rank: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Per category: n, or ceil(p % of the eligible) in exact integer arithmetic; never
    more than the eligible; 0 for top_tier_all."""
    by_percent = (plan.percent_micro * n_eligible + PERCENT_SCALE - 1) // PERCENT_SCALE
    wanted = np.where(plan.rule == RuleKind.TOP_N.value, plan.top_n, by_percent)
    out: NDArray[np.int64] = np.where(by_rank, np.minimum(wanted, n_eligible), 0)
    return out


def _rule_pick(
    ranking: _Ranking,
    scores: _Scores,
    by_rank: NDArray[np.bool_],
    wanted: NDArray[np.int64],
) -> NDArray[np.bool_]:
    """Per ranked entry: picked by the rule before any cap. A rank cut takes the whole
    tie it falls in; top_tier_all takes tier 1 on every discriminating indicator."""
    start = ranking.category_start
    end = np.zeros(start.size, np.int64)  # per category: one past the last picked place
    cut = wanted > 0
    end[cut] = ranking.tie_end[start[cut] + wanted[cut] - 1] - start[cut]
    category = ranking.category
    all_tier_one = scores.all_tier_one[ranking.rows]
    picked: NDArray[np.bool_] = np.where(
        by_rank[category], ranking.place < end[category], all_tier_one
    )
    return picked


def _apply_cap(
    plan: PlanArrays,
    ranking: _Ranking,
    picked: NDArray[np.bool_],
    picked_count: NDArray[np.int64],
) -> NDArray[np.bool_]:
    """Per ranked entry: still selected after the cap. A tie straddling the cap is kept
    whole (CapTies.KEEP) or dropped whole (CapTies.DROP)."""
    capped = (plan.cap > 0) & (picked_count > plan.cap)
    if not capped.any():
        return picked
    category, tie = ranking.category, ranking.tie
    taken = picked.astype(np.int64)
    before = np.cumsum(taken) - taken
    # Place among the category's picked entries.
    q = before - before[ranking.category_start[category]]
    cap = plan.cap[category]
    at_stake = capped[category] & picked
    keep = picked & ~(at_stake & (q >= cap))
    last_in_tie = np.full(capped.size, -1)  # per category: tie of the last entry kept
    first_out_tie = np.full(capped.size, -2)  # per category: tie of the first cut off
    at_last = at_stake & (q == cap - 1)
    at_out = at_stake & (q == cap)
    last_in_tie[category[at_last]] = tie[at_last]
    first_out_tie[category[at_out]] = tie[at_out]
    in_last_tie = at_stake & (tie == last_in_tie[category])
    straddles = (last_in_tie == first_out_tie)[category]
    out: NDArray[np.bool_] = np.where(
        plan.cap_drops_tie[category], keep & ~(in_last_tie & straddles), keep | in_last_tie
    )
    return out


# --- 6. display order ------------------------------------------------------------------


def _display_order(
    ctx: RankContext, eligibility: Eligibility, ranking: _Ranking
) -> NDArray[np.intp]:
    """Per category: eligible rows by rank (ties by standard number, then id), then the
    ineligible rows in canonical order."""
    display = np.empty(ctx.n_rows, np.intp)
    first = ctx.canon.offsets[:-1]
    display[first[ranking.category] + ranking.place] = ranking.rows
    out_rows = np.flatnonzero(~eligibility.eligible)
    out_category = ctx.category[out_rows]
    n_out = np.bincount(out_category, minlength=ctx.n_categories)
    after = first[out_category] + eligibility.count[out_category]
    display[after + np.arange(out_rows.size) - segment_starts(n_out)[out_category]] = out_rows
    return display
