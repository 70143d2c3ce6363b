"""The vectorised ranking pass.

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

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .canonical import Canonical, canonicalise
from .model import (
    CandidateBatch,
    CapTies,
    Method,
    Plan,
    Reference,
    SelectionRule,
)
from .result import EngineResult

__all__ = ["ENGINE_VERSION", "TIE_TOLERANCE", "rank"]

ENGINE_VERSION = "1.0.0"

# Two scores (0-100 scale) closer than this are the same score. Float noise from a weighted
# sum is ~1e-14 on this scale; real differences a committee would act on are >= 1e-6.
TIE_TOLERANCE = 1e-9

# Tiered rank key = (number of tier-1 indicators) * base - (sum of tiers). The base exceeds
# any possible sum of tiers, and the key stays an exact integer in float64.
PROFILE_BASE = 2.0**24

REASON_OK = 0
REASON_MISSING = 1
REASON_NOT_FINITE = 2
REASON_BELOW_BASELINE = 3

_REF_BENCHMARK, _REF_BEST, _REF_TOP_K = 0, 1, 2
_RULE_TOP_TIER_ALL, _RULE_TOP_N, _RULE_TOP_PERCENT = 0, 1, 2
_REF_CODE = {Reference.BENCHMARK: _REF_BENCHMARK, Reference.BEST: _REF_BEST}
_RULE_CODE = {SelectionRule.TOP_TIER_ALL: _RULE_TOP_TIER_ALL, SelectionRule.TOP_N: _RULE_TOP_N}
_PCT_SCALE = 100 * 1_000_000  # percent_micro / _PCT_SCALE is the fraction


class _Tables:
    """Plan parameters laid out as [category, indicator] arrays (higher-is-better space)."""

    def __init__(self, plans: tuple[Plan, ...], codes: tuple[str, ...]) -> None:
        n_cat, m = len(plans), len(codes)
        col = {c: j for j, c in enumerate(codes)}
        n_cuts = max((len(i.tiering.cuts) for p in plans for i in p.indicators), default=0)
        self.sign = np.ones((n_cat, m))
        self.base = np.zeros((n_cat, m))
        self.bench = np.full((n_cat, m), np.nan)
        self.weight = np.zeros((n_cat, m))
        self.quant = np.zeros((n_cat, m), np.int64)  # 0 means cut points
        self.n_cuts = np.zeros((n_cat, m), np.int64)
        self.cuts = np.full((n_cat, m, n_cuts), -np.inf)
        self.tiered = np.zeros(n_cat, np.bool_)
        self.ref = np.zeros(n_cat, np.int8)
        self.ref_k = np.ones(n_cat, np.int64)
        self.rule = np.zeros(n_cat, np.int8)
        self.top_n = np.zeros(n_cat, np.int64)
        self.pct = np.zeros(n_cat, np.int64)
        self.cap = np.zeros(n_cat, np.int64)  # 0 means no cap
        self.cap_drop = np.zeros(n_cat, np.bool_)
        for c, plan in enumerate(plans):
            for ind in plan.indicators:
                j = col[ind.code]
                s = ind.sign
                self.sign[c, j] = s
                self.base[c, j] = s * ind.baseline + 0.0
                if ind.benchmark is not None:
                    self.bench[c, j] = s * ind.benchmark + 0.0
                self.weight[c, j] = ind.weight
                self.quant[c, j] = ind.tiering.quantiles or 0
                cuts = ind.tiering.cuts
                self.n_cuts[c, j] = len(cuts)
                self.cuts[c, j, : len(cuts)] = [s * x + 0.0 for x in cuts]
            self.tiered[c] = plan.method is Method.TIERED
            self.ref[c] = _REF_CODE.get(plan.reference, _REF_TOP_K)
            self.ref_k[c] = plan.reference_k
            sel = plan.selection
            self.rule[c] = _RULE_CODE.get(sel.rule, _RULE_TOP_PERCENT)
            self.top_n[c] = sel.n or 0
            self.pct[c] = sel.percent_micro
            self.cap[c] = sel.cap or 0
            self.cap_drop[c] = sel.cap_ties is CapTies.DROP


def _rows(per_cat: NDArray[Any], cat: NDArray[Any]) -> Any:
    """Broadcast a per-category parameter to rows; a scalar when all categories agree
    (the common case), which saves a gather per use."""
    if per_cat.size == 0 or (per_cat == per_cat[0]).all():
        return per_cat.dtype.type(per_cat[0] if per_cat.size else 0)
    return per_cat[cat]


def _desc_key(x: NDArray[np.float64]) -> NDArray[np.uint64]:
    """Map finite floats (no -0.0) to uint64 keys whose ascending order is the floats'
    descending order. Integer keys sort faster than floats and compare exactly."""
    u = x.view(np.uint64)
    out: NDArray[np.uint64] = u ^ (((u >> np.uint64(63)) - np.uint64(1)) >> np.uint64(1))
    return out


class _Segments:
    """Sorts keys within contiguous segments (categories) as rows of padded 2-D blocks.

    numpy sorts many short rows about twice as fast as one long array (log of the segment
    size instead of log n), and no second pass by category is needed. Segments are grouped
    by padded length (powers of two and 1.5x powers of two, so padding stays under half);
    the loop runs once per length class, not per segment. The layout depends only on the
    segment sizes, so it is built once and reused for every indicator with the same sizes.
    """

    _PAD = np.iinfo(np.uint64).max  # never a real key: that bit pattern is a NaN

    def __init__(self, counts: NDArray[np.int64]) -> None:
        self.size = int(counts.sum())
        starts = _starts(counts)
        live = np.flatnonzero(counts > 0)
        c = counts[live]
        exp = np.ceil(np.log2(np.maximum(c, 4))).astype(np.int64)
        width = np.left_shift(1, exp)
        smaller = (width // 4) * 3  # 1.5 x the next power of two down
        width = np.where(c <= smaller, smaller, width)
        self.blocks: list[tuple[int, NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]] = []
        for w in np.unique(width).tolist():
            segs = live[width == w]
            cnt = counts[segs]
            row = np.repeat(np.arange(segs.size), cnt)
            col = np.arange(int(cnt.sum())) - np.repeat(_starts(cnt), cnt)
            dest = np.repeat(starts[segs], cnt) + col  # element positions, segment order
            self.blocks.append((int(w), row, col, dest))

    def order(self, keys: NDArray[np.uint64], stable: bool) -> NDArray[np.intp]:
        """Positions sorted by key inside each segment; ``stable`` keeps equal keys in
        position order."""
        out = np.empty(self.size, np.intp)
        for w, row, col, dest in self.blocks:
            pad = np.full((int(row[-1]) + 1, w), self._PAD, np.uint64)
            pad[row, col] = keys[dest]
            idx = np.argsort(pad, axis=1, kind="stable" if stable else None)
            out[dest] = (dest - col) + idx[row, col]
        return out


def _starts(counts: NDArray[np.int64]) -> NDArray[np.int64]:
    out = np.zeros(counts.size, np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def rank(batch: CandidateBatch) -> EngineResult:
    """Rank every category of the batch in one vectorised pass.

    Plain synchronous CPU work: a service should run it in a worker thread or process.
    """
    return rank_canonical(canonicalise(batch))


def rank_canonical(canon: Canonical) -> EngineResult:
    plans = canon.plans
    n_cat = len(plans)
    m, n = canon.values_t.shape
    t = _Tables(plans, canon.indicator_codes)
    cat = canon.category
    cat_small = cat.astype(np.uint16) if n_cat <= np.iinfo(np.uint16).max else cat
    applies = canon.applies

    # Pass 1: exclusion reasons, on values turned higher-is-better.
    x = np.empty(n)
    reasons_t = np.zeros((m, n), np.int8)
    bad = np.zeros(n, np.bool_)
    for j in range(m):
        app_c = applies[:, j]
        if not app_c.any():
            continue
        v = canon.values_t[j]
        np.multiply(v, _rows(t.sign[:, j], cat), out=x)
        code = reasons_t[j]
        with np.errstate(invalid="ignore"):
            code[x < _rows(t.base[:, j], cat)] = REASON_BELOW_BASELINE
        code[~np.isfinite(v)] = REASON_NOT_FINITE
        code[canon.missing_t[j]] = REASON_MISSING
        if not app_c.all():
            code[~app_c[cat]] = REASON_OK
        bad |= code != REASON_OK
    eligible = ~bad
    if canon.pre_excluded:
        eligible[np.fromiter(canon.pre_excluded, np.intp, len(canon.pre_excluded))] = False
    n_elig = np.bincount(cat[eligible], minlength=n_cat).astype(np.int64)

    # Pass 2, per indicator over the eligible rows of the categories that use it: one
    # segmented sort gives the best / top-k values, whether the indicator discriminates and
    # the number of strictly better values (quantile tiers).
    disc = np.zeros((n_cat, m), np.bool_)
    reference = np.full((n_cat, m), np.nan)  # higher-is-better space
    tiers_t = np.zeros((m, n), np.int16)
    norm_t = np.full((m, n), np.nan)
    segments: dict[bytes, _Segments] = {}
    for j in range(m):
        app_c = applies[:, j]
        if not app_c.any():
            continue
        rows = np.flatnonzero(eligible if app_c.all() else eligible & app_c[cat])
        cs = cat_small[rows]
        # + 0.0 turns -0.0 into 0.0, so equal values have equal bits (and equal keys).
        xs = canon.values_t[j][rows] * _rows(t.sign[:, j], cs) + 0.0
        count = np.where(app_c, n_elig, 0)
        start = _starts(count)
        layout_key = count.tobytes()
        if layout_key not in segments:
            segments[layout_key] = _Segments(count)
        # Equal values need no particular order here: everything derived is tie-blind.
        order = segments[layout_key].order(_desc_key(xs), stable=False)
        xo = xs[order]  # best first within each category
        has = count > 0
        top = np.full(n_cat, np.nan)
        bottom = np.full(n_cat, np.nan)
        top[has] = xo[start[has]]
        bottom[has] = xo[start[has] + count[has] - 1]
        disc_c = has & (top != bottom)
        ref_c = np.where((t.ref == _REF_BENCHMARK) & ~np.isnan(t.bench[:, j]), t.bench[:, j], top)
        topk_c = has & (t.ref == _REF_TOP_K)
        seg0 = start[cs]  # first sorted position of each position's category
        pos = np.arange(rows.size) - seg0
        if topk_c.any():
            take = (pos < t.ref_k[cs]) & topk_c[cs]
            # bincount adds each category's values in its own best-first order: the sum
            # does not depend on the other categories of the batch.
            sums = np.bincount(cs[take], weights=xo[take], minlength=n_cat)
            ref_c = np.where(topk_c, sums / np.maximum(np.minimum(t.ref_k, count), 1), ref_c)
        ref_c = np.where(has, ref_c, np.nan)
        disc[:, j] = disc_c
        reference[:, j] = ref_c

        base = t.base[:, j]
        denom = _rows(ref_c - base, cs)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.clip((xs - _rows(base, cs)) / denom, 0.0, 1.0)
        # A reference not above the baseline means every eligible value sits at the
        # baseline (best / top-k references): everyone is at the reference.
        norm_t[j][rows] = np.where(denom > 0, s, 1.0)

        quant = _rows(t.quant[:, j], cs)
        tier = np.zeros(rows.size, np.int64)
        if (t.quant[app_c, j] > 0).any():
            new_run = pos == 0
            new_run[1:] |= xo[1:] != xo[:-1]
            better = np.maximum.accumulate(np.where(new_run, np.arange(rows.size), 0)) - seg0
            tier_sorted = 1 + (quant * better) // np.maximum(count[cs], 1)
            tier[order] = tier_sorted
        n_cuts = int(t.n_cuts[:, j].max(initial=0))
        if n_cuts:
            tier_cut = np.ones(rows.size, np.int64)
            for k in range(n_cuts):
                tier_cut += xs < _rows(t.cuts[:, j, k], cs)
            tier = np.where(quant > 0, tier, tier_cut)
        tiers_t[j][rows] = np.where(_rows(disc_c, cs), tier, 0)

    # Pass 3: weights renormalised over discriminating indicators, then scores.
    w = np.where(applies & disc, t.weight, 0.0)
    none_disc = w.sum(axis=1) == 0
    w[none_disc] = np.where(applies[none_disc], t.weight[none_disc], 0.0)
    w_sum = w.sum(axis=1)
    w_sum = np.where(w_sum > 0, w_sum, 1.0)
    weight_used = np.where(applies, w / w_sum[:, None], np.nan)
    acc = np.zeros(n)
    for j in range(m):
        app_c = applies[:, j]
        if not app_c.any():
            continue
        part = _rows(w[:, j], cat) * norm_t[j]
        acc += part if app_c.all() else np.where(app_c[cat], part, 0.0)
    tiered_r = _rows(t.tiered, cat)
    # Divide once by the raw weight total: equal weights at the reference give exactly 100.
    score = np.where(eligible & ~tiered_r, 100.0 * (acc / _rows(w_sum, cat)) + 0.0, np.nan)
    n_top = (tiers_t == 1).sum(axis=0)
    not_top = (tiers_t > 1).sum(axis=0)
    profile = n_top * PROFILE_BASE - tiers_t.sum(axis=0, dtype=np.int64)

    # Rank the eligible rows: stable sort, so equal keys keep canonical (number, id) order.
    elig_rows = np.flatnonzero(eligible)
    ne = elig_rows.size
    key = np.where(tiered_r, profile, score)[elig_rows] + 0.0
    ce = cat_small[elig_rows]
    layout = segments.get(n_elig.tobytes()) or _Segments(n_elig)
    order = layout.order(_desc_key(key), stable=True)
    ks = key[order]
    start = _starts(n_elig)
    seg0 = start[ce]
    pos = np.arange(ne) - seg0
    new_group = pos == 0
    new_group[1:] |= (ks[:-1] - ks[1:]) > TIE_TOLERANCE
    group = np.cumsum(new_group) - 1
    if (~new_group[1:] & (ks[1:] != ks[:-1])).any():
        # Chained near-equal scores: put those ties back in number/id order.
        perm = np.argsort(group * max(ne, 1) + order, kind="stable")
        order = order[perm]
    group_start = np.flatnonzero(new_group)
    g_start = group_start[group]
    g_end = np.append(group_start[1:], ne)[group]
    ranked_rows = elig_rows[order]  # canonical rows in rank order
    ranks = np.zeros(n, np.int32)
    ranks[ranked_rows] = g_start - seg0 + 1

    # Selection over the rank order.
    prefix_c = t.rule != _RULE_TOP_TIER_ALL
    want = np.where(t.rule == _RULE_TOP_N, t.top_n, (t.pct * n_elig + _PCT_SCALE - 1) // _PCT_SCALE)
    want = np.where(prefix_c, np.minimum(want, n_elig), 0)
    end_c = np.zeros(n_cat, np.int64)
    cut = want > 0
    end_c[cut] = g_end[start[cut] + want[cut] - 1] - start[cut]
    all_top = (not_top == 0)[ranked_rows]
    base_sel = np.where(prefix_c[ce], pos < end_c[ce], all_top)
    count_base = np.bincount(ce[base_sel], minlength=n_cat)
    keep = base_sel
    capped = (t.cap > 0) & (count_base > t.cap)
    if capped.any():
        taken = base_sel.astype(np.int64)
        before = np.cumsum(taken) - taken
        q = before - before[seg0]  # position among the category's base selection
        cap_r = t.cap[ce]
        capped_r = capped[ce] & base_sel
        keep = base_sel & ~(capped_r & (q >= cap_r))
        last_in = np.full(n_cat, -1)
        first_out = np.full(n_cat, -2)
        at_last = capped_r & (q == cap_r - 1)
        at_out = capped_r & (q == cap_r)
        last_in[ce[at_last]] = group[at_last]
        first_out[ce[at_out]] = group[at_out]
        in_tie = capped_r & (group == last_in[ce])
        straddles = (last_in == first_out)[ce]
        keep = np.where(t.cap_drop[ce], keep & ~(in_tie & straddles), keep | in_tie)
    nominal = np.where(prefix_c, want, count_base)
    nominal = np.where(t.cap > 0, np.minimum(nominal, t.cap), nominal)
    chosen = np.bincount(ce[keep], minlength=n_cat)
    selected = np.zeros(n, np.bool_)
    selected[ranked_rows[keep]] = True
    cut_row = np.full(n_cat, -1, np.intp)
    kept = np.flatnonzero(keep)
    if kept.size:
        last = np.append(ce[kept][1:] != ce[kept][:-1], True)
        cut_row[ce[kept[last]]] = ranked_rows[kept[last]]

    # Display order: eligible rows by rank, then the ineligible ones in canonical order.
    display = np.empty(n, np.intp)
    offsets = canon.offsets
    display[offsets[:-1][ce] + pos] = ranked_rows
    out_rows = np.flatnonzero(~eligible)
    co = cat[out_rows]
    n_out = np.bincount(co, minlength=n_cat)
    display[offsets[:-1][co] + n_elig[co] + np.arange(out_rows.size) - _starts(n_out)[co]] = (
        out_rows
    )

    return EngineResult(
        engine_version=ENGINE_VERSION,
        canonical=canon,
        eligible=eligible,
        reason_codes=reasons_t.T,
        tiers=tiers_t.T,
        normalised=norm_t.T,
        scores=score,
        ranks=ranks,
        selected=selected,
        display_order=display,
        discriminating=disc,
        weights_used=weight_used,
        references=np.where(applies, reference * t.sign, np.nan) + 0.0,
        n_eligible=n_elig,
        nominal=nominal.astype(np.int64),
        selected_count=chosen.astype(np.int64),
        cut_row=cut_row,
        tier_profile=profile.astype(np.float64),
    )
