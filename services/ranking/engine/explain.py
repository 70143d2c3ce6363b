"""Explanation of one standard's outcome (评审说明): the figures behind its tier, score, rank
and the distance to the selection cut.

"Value needed" figures change one indicator and hold everything else fixed, including the
other candidates and the category's reference value; they ignore a cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .core import PROFILE_BASE
from .model import Direction, Indicator, Method, SelectionRule
from .reasons import ExclusionReason, ReasonCode
from .result import CategoryResult, EngineResult, Exclusion

__all__ = ["Explanation", "IndicatorExplanation", "explain"]


def _opt(x: Any) -> float | None:
    f = float(x)
    return None if np.isnan(f) else f + 0.0


@dataclass(frozen=True)
class IndicatorExplanation:
    """One indicator of one standard.

    ``normalised`` is 0 at the baseline and 1 at the reference; ``weight`` is the weight
    used after renormalisation (0 for an indicator that does not discriminate);
    ``contribution`` the points it adds to the 0-100 score (None for tiered plans).
    ``top_tier_threshold`` is the value that would put this standard in tier 1.
    ``value_needed`` is the value that, changed alone, would reach the selection cut; None
    when already selected, not eligible, or not reachable through this indicator alone.
    """

    code: str
    direction: Direction
    value: float | None
    baseline: float
    reference: float | None
    reason: ExclusionReason | None
    discriminating: bool
    tier: int | None
    tier_count: int
    normalised: float | None
    weight: float
    contribution: float | None
    top_tier_threshold: float | None
    value_needed: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "direction": self.direction.value,
            "value": self.value,
            "baseline": self.baseline,
            "reference": self.reference,
            "reason": None if self.reason is None else self.reason.value,
            "discriminating": self.discriminating,
            "tier": self.tier,
            "tier_count": self.tier_count,
            "normalised": self.normalised,
            "weight": self.weight,
            "contribution": self.contribution,
            "top_tier_threshold": self.top_tier_threshold,
            "value_needed": self.value_needed,
        }


@dataclass(frozen=True)
class Explanation:
    """Why a standard got its outcome. ``cut_score``/``cut_rank`` belong to the last
    selected standard of the category; ``score_gap`` is the composite points missing to tie
    it (0 when selected; None for tiered plans, for ``top_tier_all`` where the cut is not a
    score, or when nothing is selected)."""

    standard_id: str
    standard_number: str
    category: str
    method: Method
    eligible: bool
    reasons: tuple[Exclusion, ...]
    score: float | None
    rank: int | None
    selected: bool
    cut_score: float | None
    cut_rank: int | None
    score_gap: float | None
    indicators: tuple[IndicatorExplanation, ...]

    def indicator(self, code: str) -> IndicatorExplanation:
        for ind in self.indicators:
            if ind.code == code:
                return ind
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "standard_id": self.standard_id,
            "standard_number": self.standard_number,
            "category": self.category,
            "method": self.method.value,
            "eligible": self.eligible,
            "reasons": [r.to_dict() for r in self.reasons],
            "score": self.score,
            "rank": self.rank,
            "selected": self.selected,
            "cut_score": self.cut_score,
            "cut_rank": self.cut_rank,
            "score_gap": self.score_gap,
            "indicators": [i.to_dict() for i in self.indicators],
        }


class _Thresholds:
    """Lowest value (in the indicator's own direction) that reaches a tier, others fixed."""

    def __init__(self, result: EngineResult, cat: CategoryResult, row: int, j: int) -> None:
        rows = np.arange(cat.rows.start, cat.rows.stop)
        others = rows[result.eligible[rows] & (rows != row)]
        self._ind: Indicator = cat.plan.indicator(result.indicator_codes[j])
        # Others' values, higher-is-better, best first.
        self._others = np.sort(self._ind.sign * result.values[others, j])[::-1]
        self._n = int(result.n_eligible[cat.index])

    def reach(self, tier: int) -> float:
        ind = self._ind
        cuts = ind.tiering.cuts
        if ind.tiering.quantiles is None:
            return cuts[tier - 1] if tier <= len(cuts) else ind.baseline
        k = ind.tiering.quantiles
        # tier <= u  <=>  k * better < u * n  <=>  better <= ceil(u * n / k) - 1
        allowed = (tier * self._n + k - 1) // k - 1
        if allowed < self._others.size:
            return float(ind.sign * self._others[allowed]) + 0.0
        return ind.baseline


def explain(result: EngineResult, standard_id: str) -> Explanation:
    """Explain one standard of a run (raises KeyError if it is not in the run)."""
    row = result.row_of(standard_id)
    c = int(result.category_index[row])
    cat = CategoryResult(result, c)
    plan = cat.plan
    sel = cat.selection
    eligible = bool(result.eligible[row])
    selected = bool(result.selected[row])
    tiered = plan.method is Method.TIERED
    score = _opt(result.scores[row])
    cut_row = int(result.cut_row[c])

    codes = sorted(plan.codes)
    cols = [result.indicator_codes.index(code) for code in codes]
    tiers = {j: int(result.tiers[row, j]) for j in cols}
    disc = {j: bool(result.discriminating[c, j]) for j in cols}
    needed: dict[int, float | None] = dict.fromkeys(cols)
    thresholds = {j: _Thresholds(result, cat, row, j) for j in cols if eligible and disc[j]}

    reachable = eligible and not selected
    if reachable and plan.selection.rule is SelectionRule.TOP_TIER_ALL:
        short = [j for j in cols if disc[j] and tiers[j] != 1]
        if len(short) == 1:
            needed[short[0]] = thresholds[short[0]].reach(1)
    elif reachable and cut_row >= 0 and tiered:
        n_top = sum(1 for j in cols if tiers[j] == 1)
        total = sum(tiers.values())
        cut_profile = float(result.tier_profile[cut_row])
        for j in cols:
            t = tiers[j]
            for u in range(t - 1, 0, -1):
                profile = (n_top + (u == 1)) * PROFILE_BASE - (total - t + u)
                if profile >= cut_profile:
                    needed[j] = thresholds[j].reach(u)
                    break
    elif reachable and cut_row >= 0 and score is not None:
        gap = float(result.scores[cut_row]) - score
        for j in cols:
            ind = plan.indicator(result.indicator_codes[j])
            w = float(result.weights_used[c, j])
            if not disc[j] or w <= 0:
                continue
            s_need = float(result.normalised[row, j]) + gap / (100.0 * w)
            if s_need <= 1.0 + 1e-12:  # allow for rounding in the division above
                base = ind.sign * ind.baseline
                ref = ind.sign * float(result.references[c, j])
                needed[j] = float(ind.sign * (base + min(s_need, 1.0) * (ref - base))) + 0.0

    indicators = []
    for code, j in zip(codes, cols, strict=True):
        ind = plan.indicator(code)
        reason_code = ReasonCode(int(result.reason_codes[row, j]))
        value = float(result.values[row, j])
        indicators.append(
            IndicatorExplanation(
                code=code,
                direction=ind.direction,
                value=None if reason_code is ReasonCode.MISSING or np.isnan(value) else value,
                baseline=ind.baseline,
                reference=_opt(result.references[c, j]),
                reason=reason_code.reason,
                discriminating=disc[j],
                tier=tiers[j] or None,
                tier_count=ind.tiering.tier_count,
                normalised=_opt(result.normalised[row, j]),
                weight=float(result.weights_used[c, j]),
                contribution=result.contribution(row, j),
                top_tier_threshold=thresholds[j].reach(1) if j in thresholds else None,
                value_needed=needed[j],
            )
        )

    score_gap = None
    by_score = plan.selection.rule is not SelectionRule.TOP_TIER_ALL
    if by_score and score is not None and sel.cut_score is not None:
        score_gap = max(sel.cut_score - score, 0.0)
    rank = int(result.ranks[row])
    return Explanation(
        standard_id=standard_id,
        standard_number=result.canonical.number_of(row),
        category=cat.code,
        method=plan.method,
        eligible=eligible,
        reasons=result.reasons(row),
        score=score,
        rank=rank or None,
        selected=selected,
        cut_score=sel.cut_score,
        cut_rank=sel.cut_rank,
        score_gap=score_gap,
        indicators=tuple(indicators),
    )
