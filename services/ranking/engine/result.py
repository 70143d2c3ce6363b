"""Output of the ranking engine: columnar arrays plus per-category views.

All row arrays are in the canonical order (category, standard number, standard id). The
per-category objects are thin views that build plain Python values on demand, so a run over
a million candidates costs nothing until a category is actually read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .canonical import Canonical
from .digest import Hasher, canonical_json, float_hex, input_digest_of
from .model import Direction, Method, Plan, SelectionRule
from .reasons import EXCLUSION_REASONS, ExclusionReason, ReasonCode

__all__ = [
    "CandidateOutcome",
    "CategoryResult",
    "EngineResult",
    "Exclusion",
    "IndicatorOutcome",
    "SelectionOutcome",
]


def _num(x: Any) -> float | None:
    """A float for JSON; NaN (not applicable) becomes None."""
    f = float(x)
    return None if math.isnan(f) else f + 0.0


@dataclass(frozen=True)
class Exclusion:
    """One reason a candidate is not eligible (indicator is None for a pre-exclusion)."""

    reason: ExclusionReason
    indicator: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason.value, "indicator": self.indicator, "detail": self.detail}


@dataclass(frozen=True)
class SelectionOutcome:
    """How the selection rule played out in one category.

    ``nominal`` is what the rule asks for (n, the rounded-up percentage, or the number in
    tier 1 everywhere; never more than the eligible count), limited by the cap. ``added``
    is how many more were selected because a cut fell inside a tie (``tie_extended``);
    ``cap_dropped`` how many fewer, because a cap with ``cap_ties=drop`` fell inside a tie.
    ``cut_score``/``cut_rank`` describe the last selected candidate in rank order (score
    None for tiered plans); both None when nobody is selected.
    """

    rule: SelectionRule
    nominal: int
    selected: int
    tie_extended: bool
    added: int
    cap_dropped: int
    cut_score: float | None
    cut_rank: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.value,
            "nominal": self.nominal,
            "selected": self.selected,
            "tie_extended": self.tie_extended,
            "added": self.added,
            "cap_dropped": self.cap_dropped,
            "cut_score": self.cut_score,
            "cut_rank": self.cut_rank,
        }


@dataclass(frozen=True)
class IndicatorOutcome:
    """One indicator of a category: whether it discriminates, its weight and tier lists.

    ``tiers`` lists the standard ids of each tier (tier 1 first) in standard-number order:
    inside a tier there is no ranking. None when the indicator does not discriminate.
    """

    code: str
    direction: Direction
    discriminating: bool
    weight_used: float
    reference: float | None
    tier_count: int
    tiers: tuple[tuple[str, ...], ...] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "direction": self.direction.value,
            "discriminating": self.discriminating,
            "weight_used": self.weight_used,
            "reference": self.reference,
            "tier_count": self.tier_count,
            "tiers": None if self.tiers is None else [list(t) for t in self.tiers],
        }


@dataclass(frozen=True)
class CandidateOutcome:
    standard_id: str
    standard_number: str
    eligible: bool
    reasons: tuple[Exclusion, ...]
    score: float | None
    rank: int | None
    selected: bool
    tiers: dict[str, int | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "standard_id": self.standard_id,
            "standard_number": self.standard_number,
            "eligible": self.eligible,
            "reasons": [r.to_dict() for r in self.reasons],
            "score": self.score,
            "rank": self.rank,
            "selected": self.selected,
            "tiers": dict(self.tiers),
        }


@dataclass(frozen=True, eq=False)
class EngineResult:
    """Everything one ``rank()`` call computed. Row arrays are in canonical order
    (category, standard number, standard id); [n, m] matrices are views of indicator-major
    storage, columns in ``indicator_codes`` order.

    Row arrays: ``eligible``, ``reason_codes`` [n, m] (``ReasonCode``, 0 = eligible on
    that indicator), ``tiers`` [n, m] (0 = no tier), ``normalised`` [n, m] (0..1, NaN when
    not applicable), ``contributions`` [n, m] (points of the 0-100 score, NaN for tiered
    plans), ``scores`` (NaN for tiered plans and ineligible rows), ``ranks`` (0 = none),
    ``selected``. ``display_order`` lists row numbers by category, then rank, then standard
    number/id, with ineligible rows last. Per-category arrays are indexed like
    ``category_codes``.
    """

    engine_version: str
    canonical: Canonical
    eligible: NDArray[np.bool_]
    reason_codes: NDArray[np.int8]
    tiers: NDArray[np.int16]
    normalised: NDArray[np.float64]
    scores: NDArray[np.float64]
    ranks: NDArray[np.int32]
    selected: NDArray[np.bool_]
    display_order: NDArray[np.intp]
    discriminating: NDArray[np.bool_]
    weights_used: NDArray[np.float64]
    references: NDArray[np.float64]
    n_eligible: NDArray[np.int64]
    nominal: NDArray[np.int64]
    selected_count: NDArray[np.int64]
    cut_row: NDArray[np.intp]
    tier_profile: NDArray[np.float64]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # --- plain accessors -------------------------------------------------------------
    @property
    def contributions(self) -> NDArray[np.float64]:
        """[n, m] points each indicator adds to the score: 100 * weight used * normalised
        (NaN for tiered plans and where not applicable). Derived on first use."""
        out = self._cache.get("contributions")
        if out is None:
            cat = self.category_index
            factor = 100.0 * np.nan_to_num(self.weights_used)
            factor[np.array([p.method is Method.TIERED for p in self.plans], np.bool_)] = np.nan
            out = self._cache["contributions"] = factor[cat] * self.normalised
        return out

    def contribution(self, row: int, j: int) -> float | None:
        """One cell of ``contributions`` with the same arithmetic, without the matrix."""
        c = int(self.category_index[row])
        if self.plans[c].method is Method.TIERED:
            return None
        factor = 100.0 * float(np.nan_to_num(self.weights_used[c, j]))
        return _num(factor * float(self.normalised[row, j]))

    @property
    def indicator_codes(self) -> tuple[str, ...]:
        return self.canonical.indicator_codes

    @property
    def category_codes(self) -> tuple[str, ...]:
        return self.canonical.category_codes

    @property
    def plans(self) -> tuple[Plan, ...]:
        return self.canonical.plans

    @property
    def standard_ids(self) -> NDArray[np.str_]:
        return self.canonical.standard_ids

    @property
    def standard_numbers(self) -> NDArray[np.str_]:
        return self.canonical.standard_numbers

    @property
    def category_index(self) -> NDArray[np.intp]:
        return self.canonical.category

    @property
    def offsets(self) -> NDArray[np.intp]:
        return self.canonical.offsets

    @property
    def values(self) -> NDArray[np.float64]:
        return self.canonical.values

    def __len__(self) -> int:
        return int(self.eligible.shape[0])

    def row_of(self, standard_id: str) -> int:
        """Canonical row of a standard (the index is built on first use)."""
        index = self._cache.get("rows")
        if index is None:
            index = {s: i for i, s in enumerate(self.standard_ids.tolist())}
            self._cache["rows"] = index
        try:
            return int(index[standard_id])
        except KeyError:
            raise KeyError(f"standard {standard_id!r} is not in this run") from None

    def category_of_code(self, code: str) -> int:
        index = self._cache.get("cats")
        if index is None:
            index = {c: i for i, c in enumerate(self.category_codes)}
            self._cache["cats"] = index
        try:
            return int(index[code])
        except KeyError:
            raise KeyError(f"category {code!r} is not in this run") from None

    def category(self, code: str) -> CategoryResult:
        return CategoryResult(self, self.category_of_code(code))

    def categories(self) -> Iterator[CategoryResult]:
        for c in range(len(self.category_codes)):
            yield CategoryResult(self, c)

    def reasons(self, row: int) -> tuple[Exclusion, ...]:
        out: list[Exclusion] = []
        pre = self.canonical.pre_excluded.get(row)
        if pre is not None:
            out.append(Exclusion(ExclusionReason.PRE_EXCLUDED, None, pre))
        codes = self.reason_codes[row]
        for j in np.flatnonzero(codes).tolist():
            reason = EXCLUSION_REASONS[ReasonCode(int(codes[j]))]
            out.append(Exclusion(reason, self.indicator_codes[j]))
        return tuple(out)

    def outcome(self, row: int) -> CandidateOutcome:
        c = int(self.category_index[row])
        plan = self.plans[c]
        tiers = self.tiers[row]
        col = {code: j for j, code in enumerate(self.indicator_codes)}
        rank = int(self.ranks[row])
        return CandidateOutcome(
            standard_id=self.canonical.id_of(row),
            standard_number=self.canonical.number_of(row),
            eligible=bool(self.eligible[row]),
            reasons=self.reasons(row),
            score=_num(self.scores[row]),
            rank=rank or None,
            selected=bool(self.selected[row]),
            tiers={code: (int(tiers[col[code]]) or None) for code in sorted(plan.codes)},
        )

    # --- digests ---------------------------------------------------------------------
    def input_digest(self) -> str:
        """SHA-256 of the canonical inputs: rows sorted, columns by code, plans by category
        (fields sorted, floats as ``float.hex``), cells a plan does not use blanked, NaN and
        -0.0 normalised. Equal for any order of the same candidates."""
        cached = self._cache.get("input_digest")
        if cached is None:
            cached = input_digest_of(self.canonical)
            self._cache["input_digest"] = cached
        return str(cached)

    def result_digest(self) -> str:
        """SHA-256 of the canonical serialisation of the output.

        Tagged, length-prefixed frames: a JSON summary (engine version, indicator codes and
        per category: counts, discriminating flags, weights used, references, selection
        outcome; floats as ``float.hex``), then the row arrays in canonical order as
        little-endian bytes (ids and numbers as UCS4; matrices indicator-major; one NaN
        pattern, no -0.0). Equal digests mean byte-identical outcomes."""
        cached = self._cache.get("result_digest")
        if cached is None:
            h = Hasher("forerunner.ranking.result/1")
            h.frame("summary", canonical_json(self._summary()))
            canon = self.canonical
            h.frame("standard_ids", canon.input_ids, rows=canon.order)
            h.frame("standard_numbers", canon.input_numbers, rows=canon.order)
            h.frame("category", self.category_index.astype("<i8"))
            h.frame("eligible", self.eligible.astype(np.uint8))
            h.frame("reason_codes", self.reason_codes.T.astype("<i1"))
            pre = sorted(self.canonical.pre_excluded.items())
            h.frame("pre_excluded", canonical_json([[r, why] for r, why in pre]))
            h.frame("tiers", self.tiers.T.astype("<i2"))
            h.frame("normalised", self.normalised.T, floats=True)
            h.frame("contributions", self.contributions.T, floats=True)
            h.frame("scores", self.scores, floats=True)
            h.frame("ranks", self.ranks.astype("<i4"))
            h.frame("selected", self.selected.astype(np.uint8))
            h.frame("display_order", self.display_order.astype("<i8"))
            cached = h.hexdigest()
            self._cache["result_digest"] = cached
        return str(cached)

    def _summary(self) -> dict[str, Any]:
        cats = []
        for cat in self.categories():
            sel = cat.selection
            c = cat.index
            cats.append(
                {
                    "category": cat.code,
                    "n_candidates": cat.n_candidates,
                    "n_eligible": cat.n_eligible,
                    "discriminating": self.discriminating[c].tolist(),
                    "weights_used": [float_hex(w) for w in self.weights_used[c]],
                    "references": [float_hex(r) for r in self.references[c]],
                    "selection": {
                        **sel.to_dict(),
                        "cut_score": None if sel.cut_score is None else sel.cut_score.hex(),
                    },
                }
            )
        return {
            "engine_version": self.engine_version,
            "indicator_codes": list(self.indicator_codes),
            "categories": cats,
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole run as plain JSON-able data (large for big runs; prefer categories)."""
        return {
            "engine_version": self.engine_version,
            "input_digest": self.input_digest(),
            "result_digest": self.result_digest(),
            "indicator_codes": list(self.indicator_codes),
            "categories": [cat.to_dict() for cat in self.categories()],
        }


@dataclass(frozen=True, eq=False)
class CategoryResult:
    """A view of one category of a run."""

    result: EngineResult
    index: int

    @property
    def code(self) -> str:
        return self.result.category_codes[self.index]

    @property
    def plan(self) -> Plan:
        return self.result.plans[self.index]

    @property
    def rows(self) -> range:
        """Canonical rows of the category (standard-number order)."""
        off = self.result.offsets
        return range(int(off[self.index]), int(off[self.index + 1]))

    @property
    def n_candidates(self) -> int:
        return len(self.rows)

    @property
    def n_eligible(self) -> int:
        return int(self.result.n_eligible[self.index])

    def display_rows(self) -> NDArray[np.intp]:
        """Rows by rank, ties by standard number then id, ineligible last."""
        r = self.rows
        return self.result.display_order[r.start : r.stop]

    @property
    def selection(self) -> SelectionOutcome:
        res, c = self.result, self.index
        nominal = int(res.nominal[c])
        chosen = int(res.selected_count[c])
        row = int(res.cut_row[c])
        return SelectionOutcome(
            rule=self.plan.selection.rule,
            nominal=nominal,
            selected=chosen,
            tie_extended=chosen > nominal,
            added=max(chosen - nominal, 0),
            cap_dropped=max(nominal - chosen, 0),
            cut_score=_num(res.scores[row]) if row >= 0 else None,
            cut_rank=int(res.ranks[row]) if row >= 0 else None,
        )

    def selected_ids(self) -> list[str]:
        rows = self.display_rows()
        chosen = rows[self.result.selected[rows]]
        return [str(s) for s in self.result.canonical.ids_at(chosen)]

    def ranking(self) -> list[CandidateOutcome]:
        return [self.result.outcome(int(r)) for r in self.display_rows()]

    def indicators(self) -> list[IndicatorOutcome]:
        res, c = self.result, self.index
        rows = np.arange(self.rows.start, self.rows.stop)
        out = []
        for code in sorted(self.plan.codes):
            j = res.indicator_codes.index(code)
            ind = self.plan.indicator(code)
            disc = bool(res.discriminating[c, j])
            tiers: tuple[tuple[str, ...], ...] | None = None
            if disc:
                tier_col = res.tiers[rows, j]
                ids = res.canonical.ids_at(rows)
                tiers = tuple(
                    tuple(str(s) for s in ids[tier_col == k])
                    for k in range(1, ind.tiering.tier_count + 1)
                )
            out.append(
                IndicatorOutcome(
                    code=code,
                    direction=ind.direction,
                    discriminating=disc,
                    weight_used=float(res.weights_used[c, j]),
                    reference=_num(res.references[c, j]),
                    tier_count=ind.tiering.tier_count,
                    tiers=tiers,
                )
            )
        return out

    def tier_lists(self, code: str) -> tuple[tuple[str, ...], ...] | None:
        for ind in self.indicators():
            if ind.code == code:
                return ind.tiers
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.code,
            "method": self.plan.method.value,
            "n_candidates": self.n_candidates,
            "n_eligible": self.n_eligible,
            "indicators": [i.to_dict() for i in self.indicators()],
            "selection": self.selection.to_dict(),
            "candidates": [o.to_dict() for o in self.ranking()],
        }

    @property
    def tiered(self) -> bool:
        return self.plan.method is Method.TIERED
