"""What the ranking passes read: the plans laid out as arrays, so that one pass covers
every category's plan at once, and each canonical row's category."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .canonical import Canonical
from .model import CapTies, Method, Plan, Reference, SelectionRule

__all__ = ["PERCENT_SCALE", "PlanArrays", "RankContext", "ReferenceKind", "RuleKind"]

PERCENT_SCALE = 100 * 1_000_000  # Selection.percent_micro / PERCENT_SCALE is the fraction


class ReferenceKind(IntEnum):
    """``Plan.reference`` as stored in ``PlanArrays.reference``."""

    BENCHMARK = 0
    BEST = 1
    TOP_K_MEAN = 2


class RuleKind(IntEnum):
    """``Selection.rule`` as stored in ``PlanArrays.rule``."""

    TOP_TIER_ALL = 0
    TOP_N = 1
    TOP_PERCENT = 2


_REFERENCE_KIND = {
    Reference.BENCHMARK: ReferenceKind.BENCHMARK,
    Reference.BEST: ReferenceKind.BEST,
    Reference.TOP_K_MEAN: ReferenceKind.TOP_K_MEAN,
}
_RULE_KIND = {
    SelectionRule.TOP_TIER_ALL: RuleKind.TOP_TIER_ALL,
    SelectionRule.TOP_N: RuleKind.TOP_N,
    SelectionRule.TOP_PERCENT: RuleKind.TOP_PERCENT,
}


class PlanArrays:
    """Per [category, indicator] and per category arrays of the plans.

    Values (baseline, benchmark, cut points) are in higher-is-better space: multiplied by
    ``sign``, -1 for a lower-is-better indicator. ``+ 0.0`` turns -0.0 into 0.0.
    """

    def __init__(self, plans: tuple[Plan, ...], codes: tuple[str, ...]) -> None:
        n_cat, m = len(plans), len(codes)
        col = {c: j for j, c in enumerate(codes)}
        max_cuts = max((len(i.tiering.cuts) for p in plans for i in p.indicators), default=0)
        # [category, indicator]
        self.sign = np.ones((n_cat, m))
        self.baseline = np.zeros((n_cat, m))
        self.benchmark = np.full((n_cat, m), np.nan)  # NaN: none given
        self.weight = np.zeros((n_cat, m))
        self.quantiles = np.zeros((n_cat, m), np.int64)  # 0: cut points instead
        self.n_cuts = np.zeros((n_cat, m), np.int64)
        self.cuts = np.full((n_cat, m, max_cuts), -np.inf)  # best first, padded
        # [category]
        self.tiered = np.zeros(n_cat, np.bool_)
        self.reference = np.zeros(n_cat, np.int8)  # ReferenceKind
        self.reference_k = np.ones(n_cat, np.int64)
        self.rule = np.zeros(n_cat, np.int8)  # RuleKind
        self.top_n = np.zeros(n_cat, np.int64)
        self.percent_micro = np.zeros(n_cat, np.int64)
        self.cap = np.zeros(n_cat, np.int64)  # 0: no cap
        self.cap_drops_tie = np.zeros(n_cat, np.bool_)
        for c, plan in enumerate(plans):
            for ind in plan.indicators:
                j = col[ind.code]
                s = ind.sign
                self.sign[c, j] = s
                self.baseline[c, j] = s * ind.baseline + 0.0
                if ind.benchmark is not None:
                    self.benchmark[c, j] = s * ind.benchmark + 0.0
                self.weight[c, j] = ind.weight
                self.quantiles[c, j] = ind.tiering.quantiles or 0
                cuts = ind.tiering.cuts
                self.n_cuts[c, j] = len(cuts)
                self.cuts[c, j, : len(cuts)] = [s * x + 0.0 for x in cuts]
            self.tiered[c] = plan.method is Method.TIERED
            self.reference[c] = _REFERENCE_KIND[plan.reference]
            self.reference_k[c] = plan.reference_k
            sel = plan.selection
            self.rule[c] = _RULE_KIND[sel.rule]
            self.top_n[c] = sel.n or 0
            self.percent_micro[c] = sel.percent_micro
            self.cap[c] = sel.cap or 0
            self.cap_drops_tie[c] = sel.cap_ties is CapTies.DROP


@dataclass(frozen=True)
class RankContext:
    """What every pass reads. Arrays named per category have one entry per category;
    row arrays one per canonical row; ``_t`` matrices are indicator-major, [m, n]."""

    canon: Canonical
    plan: PlanArrays
    n_categories: int
    n_rows: int
    category: NDArray[np.intp]  # per row
    category_small: NDArray[Any]  # the same as uint16 when it fits: cheaper gathers

    @classmethod
    def of(cls, canon: Canonical) -> RankContext:
        n_cat = len(canon.plans)
        category = canon.category
        small = category.astype(np.uint16) if n_cat <= np.iinfo(np.uint16).max else category
        return cls(
            canon=canon,
            plan=PlanArrays(canon.plans, canon.indicator_codes),
            n_categories=n_cat,
            n_rows=canon.values_t.shape[1],
            category=category,
            category_small=small,
        )

    def used_indicators(self) -> Iterator[int]:
        """Indicator columns that at least one category's plan uses."""
        applies = self.canon.applies
        for j in range(applies.shape[1]):
            if applies[:, j].any():
                yield j
