"""Inputs of the ranking engine: plans (评估方案), indicators and the candidate batch.

Everything here is an immutable value. Plans normalise themselves on construction (floats,
cut points sorted best first) so that two plans that mean the same thing compare, hash and
serialise the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, SupportsFloat

import numpy as np
from numpy.typing import NDArray

from .reasons import ExclusionReason

__all__ = [
    "Candidate",
    "CandidateBatch",
    "CapTies",
    "Direction",
    "ExclusionReason",
    "Indicator",
    "Method",
    "Plan",
    "Reference",
    "Selection",
    "SelectionRule",
    "Tiering",
]

# Bounds that keep the tiered rank key exact in float64 (see core.PROFILE_BASE).
MAX_TIERS = 100
MAX_QUANTILE_TIERS = MAX_TIERS


class Direction(StrEnum):
    """Which way an indicator improves (正向 / 逆向指标)."""

    HIGHER = "higher"  # e.g. energy efficiency, lifetime
    LOWER = "lower"  # e.g. noise dB, standby power W


class Method(StrEnum):
    """How a plan ranks its candidates."""

    TIERED = "tiered"  # 分档: one tier list per indicator, no order inside a tier
    COMPOSITE = "composite"  # 综合评分: weighted normalised score 0-100


class Reference(StrEnum):
    """Which value scores 1 (100 %) on an indicator in composite scoring."""

    BENCHMARK = "benchmark"  # international advanced value (国际先进值); best if none
    BEST = "best"  # best eligible value in the category
    TOP_K_MEAN = "top_k_mean"  # mean of the best k eligible values


class SelectionRule(StrEnum):
    """Which candidates become forerunners (领跑者)."""

    TOP_TIER_ALL = "top_tier_all"  # in tier 1 on every discriminating indicator
    TOP_N = "top_n"
    TOP_PERCENT = "top_percent"


class CapTies(StrEnum):
    """What a cap does when its limit falls inside a tie."""

    KEEP = "keep"  # keep the whole tie (exceeds the cap, flagged as tie_extended)
    DROP = "drop"  # drop the whole tie (stays under the cap, flagged as cap_dropped)


def _finite_float(value: float, what: str) -> float:
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return out + 0.0  # -0.0 -> 0.0 so equal plans serialise the same


@dataclass(frozen=True)
class Tiering:
    """How one indicator is split into tiers (分档). Exactly one of the two forms.

    * ``cuts``: explicit cut points. A value at or better than a cut goes into the better
      tier, so ``c`` cuts give ``c + 1`` tiers and the last tier runs down to the baseline.
    * ``quantiles``: ``k`` tiers by position among the eligible values, see ``core``.
    """

    cuts: tuple[float, ...] = ()
    quantiles: int | None = None

    def __post_init__(self) -> None:
        if (len(self.cuts) > 0) == (self.quantiles is not None):
            raise ValueError("Tiering needs either cut points or a quantile count, not both")
        if self.quantiles is not None and not (2 <= self.quantiles <= MAX_QUANTILE_TIERS):
            raise ValueError(f"quantile tiers must be between 2 and {MAX_QUANTILE_TIERS}")
        if len(self.cuts) >= MAX_TIERS:
            raise ValueError(f"at most {MAX_TIERS - 1} cut points")
        object.__setattr__(self, "cuts", tuple(_finite_float(c, "cut point") for c in self.cuts))

    @classmethod
    def cut_points(cls, *cuts: float) -> Tiering:
        return cls(cuts=tuple(cuts))

    @classmethod
    def quantile(cls, k: int) -> Tiering:
        return cls(quantiles=k)

    @property
    def tier_count(self) -> int:
        return self.quantiles if self.quantiles is not None else len(self.cuts) + 1


@dataclass(frozen=True)
class Indicator:
    """A core indicator (核心指标) of a plan.

    ``baseline`` is the national/industry requirement (基准值): a value worse than it can not
    rank. ``benchmark`` (国际先进值), if given, must be strictly better than the baseline.
    ``weight`` > 0. ``tiering`` defaults to 3 quantile tiers; cut points must be strictly
    better than the baseline and are stored best first.
    """

    code: str
    direction: Direction
    baseline: float
    benchmark: float | None = None
    weight: float = 1.0
    tiering: Tiering = field(default_factory=lambda: Tiering(quantiles=3))

    def __post_init__(self) -> None:
        if not self.code:
            raise ValueError("indicator code must not be empty")
        object.__setattr__(self, "direction", Direction(self.direction))
        baseline = _finite_float(self.baseline, f"{self.code}: baseline")
        object.__setattr__(self, "baseline", baseline)
        sign = self.sign
        if self.benchmark is not None:
            benchmark = _finite_float(self.benchmark, f"{self.code}: benchmark")
            if sign * benchmark <= sign * baseline:
                raise ValueError(f"{self.code}: benchmark must be better than the baseline")
            object.__setattr__(self, "benchmark", benchmark)
        weight = _finite_float(self.weight, f"{self.code}: weight")
        if weight <= 0:
            raise ValueError(f"{self.code}: weight must be positive")
        object.__setattr__(self, "weight", weight)
        cuts = self.tiering.cuts
        if cuts:
            if len(set(cuts)) != len(cuts):
                raise ValueError(f"{self.code}: duplicate cut points")
            if any(sign * c <= sign * baseline for c in cuts):
                raise ValueError(f"{self.code}: cut points must be better than the baseline")
            ordered = tuple(sorted(cuts, key=lambda c: -sign * c))
            object.__setattr__(self, "tiering", Tiering(cuts=ordered))

    @property
    def sign(self) -> float:
        """+1 or -1: multiplying a value by it makes higher always better."""
        return 1.0 if self.direction is Direction.HIGHER else -1.0

    def is_better(self, a: float, b: float) -> bool:
        return self.sign * a > self.sign * b

    def canonical(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "direction": self.direction.value,
            "baseline": self.baseline.hex(),
            "benchmark": None if self.benchmark is None else self.benchmark.hex(),
            "weight": self.weight.hex(),
            "cuts": [c.hex() for c in self.tiering.cuts],
            "quantiles": self.tiering.quantiles,
        }


@dataclass(frozen=True)
class Selection:
    """The selection rule (遴选规则) of a plan.

    ``n`` is required for ``top_n``; ``percent`` (0 < p <= 100, resolution 1e-6) for
    ``top_percent``; ``cap`` optionally limits the count for any rule, and ``cap_ties`` says
    what happens when the cap falls inside a tie.
    """

    rule: SelectionRule
    n: int | None = None
    percent: float | None = None
    cap: int | None = None
    cap_ties: CapTies = CapTies.KEEP

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", SelectionRule(self.rule))
        object.__setattr__(self, "cap_ties", CapTies(self.cap_ties))
        if self.rule is SelectionRule.TOP_N:
            if self.n is None or self.n < 1:
                raise ValueError("top_n needs n >= 1")
        elif self.n is not None:
            raise ValueError("n only applies to top_n")
        if self.rule is SelectionRule.TOP_PERCENT:
            if self.percent is None:
                raise ValueError("top_percent needs percent")
            pct = _finite_float(self.percent, "percent")
            if not 0 < pct <= 100:
                raise ValueError("percent must be in (0, 100]")
            object.__setattr__(self, "percent", pct)
        elif self.percent is not None:
            raise ValueError("percent only applies to top_percent")
        if self.cap is not None and self.cap < 1:
            raise ValueError("cap must be >= 1")

    @property
    def percent_micro(self) -> int:
        """The percentage in millionths of a percent, so counts use integer arithmetic."""
        return round((self.percent or 0.0) * 1_000_000)

    def canonical(self) -> dict[str, Any]:
        return {
            "rule": self.rule.value,
            "n": self.n,
            "percent": None if self.percent is None else self.percent.hex(),
            "cap": self.cap,
            "cap_ties": self.cap_ties.value,
        }


@dataclass(frozen=True)
class Plan:
    """An evaluation plan (评估方案) for one category.

    Defaults: composite method, benchmark reference, k = 3 for ``top_k_mean``.
    ``reference``/``reference_k`` only matter to composite scores (and to the normalised
    figures shown in explanations of tiered plans).
    """

    indicators: tuple[Indicator, ...]
    selection: Selection
    method: Method = Method.COMPOSITE
    reference: Reference = Reference.BENCHMARK
    reference_k: int = 3

    def __post_init__(self) -> None:
        indicators = tuple(self.indicators)
        if not indicators:
            raise ValueError("a plan needs at least one core indicator")
        codes = [i.code for i in indicators]
        if len(set(codes)) != len(codes):
            raise ValueError(f"duplicate indicator codes in plan: {codes}")
        object.__setattr__(self, "indicators", indicators)
        object.__setattr__(self, "method", Method(self.method))
        object.__setattr__(self, "reference", Reference(self.reference))
        if self.reference_k < 1:
            raise ValueError("reference_k must be >= 1")

    def indicator(self, code: str) -> Indicator:
        for ind in self.indicators:
            if ind.code == code:
                return ind
        raise KeyError(code)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.indicators)

    def canonical(self) -> dict[str, Any]:
        """Plan as plain JSON-able data; indicators sorted by code, floats as ``float.hex``."""
        return {
            "method": self.method.value,
            "reference": self.reference.value,
            "reference_k": self.reference_k,
            "selection": self.selection.canonical(),
            "indicators": [i.canonical() for i in sorted(self.indicators, key=lambda i: i.code)],
        }


@dataclass(frozen=True)
class Candidate:
    """One candidate standard, for building a batch from records (small inputs, tests).

    A value may be anything ``float()`` accepts (int, float, Decimal, numeric text); None or
    an absent code is missing.
    """

    standard_id: str
    standard_number: str
    category: str
    values: Mapping[str, SupportsFloat | str | None]


def _str_array(values: Any, what: str) -> NDArray[np.str_]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional")
    if arr.dtype.kind != "U":
        if arr.size and not all(isinstance(v, str) for v in arr.tolist()):
            raise TypeError(f"{what} must hold strings")
        arr = arr.astype(np.str_) if arr.size else np.zeros(0, dtype="<U1")
    return arr


@dataclass(frozen=True, eq=False)
class CandidateBatch:
    """All candidates of one run, as columns, with the plan of every category.

    ``values[i, j]`` is candidate ``i``'s value for ``indicator_codes[j]``; the matrix has one
    column per distinct indicator code over all plans and a cell is only read when the
    candidate's plan uses that code. NaN means missing unless ``missing`` is given, in which
    case ``missing`` marks the missing cells and any other NaN/inf is "not a finite number".
    ``excluded`` maps standard ids the caller has already excluded to the reason.

    Standard ids must be unique. The engine never writes to the arrays; do not mutate them
    while a run is using them.
    """

    standard_ids: NDArray[np.str_]
    standard_numbers: NDArray[np.str_]
    categories: NDArray[np.str_]
    indicator_codes: tuple[str, ...]
    values: NDArray[np.float64]
    plans: Mapping[str, Plan]
    missing: NDArray[np.bool_] | None = None
    excluded: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = _str_array(self.standard_ids, "standard_ids")
        numbers = _str_array(self.standard_numbers, "standard_numbers")
        cats = _str_array(self.categories, "categories")
        n = ids.shape[0]
        if numbers.shape[0] != n or cats.shape[0] != n:
            raise ValueError("standard_ids, standard_numbers and categories differ in length")
        codes = tuple(str(c) for c in self.indicator_codes)
        if len(set(codes)) != len(codes):
            raise ValueError("duplicate indicator codes")
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 2 or values.shape != (n, len(codes)):
            raise ValueError(f"values must have shape ({n}, {len(codes)}), got {values.shape}")
        missing = None
        if self.missing is not None:
            missing = np.asarray(self.missing, dtype=np.bool_)
            if missing.shape != values.shape:
                raise ValueError("missing must have the same shape as values")
        known = set(codes)
        for category, plan in self.plans.items():
            if not isinstance(plan, Plan):
                raise TypeError(f"plan for {category!r} is not a Plan")
            absent = [c for c in plan.codes if c not in known]
            if absent:
                raise ValueError(
                    f"plan for {category!r} uses indicators not in the batch: {absent}"
                )
        object.__setattr__(self, "standard_ids", ids)
        object.__setattr__(self, "standard_numbers", numbers)
        object.__setattr__(self, "categories", cats)
        object.__setattr__(self, "indicator_codes", codes)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "missing", missing)
        object.__setattr__(self, "plans", dict(self.plans))
        object.__setattr__(self, "excluded", {str(k): str(v) for k, v in self.excluded.items()})

    def __len__(self) -> int:
        return int(self.standard_ids.shape[0])

    @classmethod
    def from_candidates(
        cls,
        candidates: Iterable[Candidate],
        plans: Mapping[str, Plan],
        excluded: Mapping[str, str] | None = None,
    ) -> CandidateBatch:
        """Build a batch from records. ``None`` or an absent code is missing; a value that is
        not a finite number (NaN, inf, non-numeric text) is reported as not finite."""
        rows = list(candidates)
        codes = tuple(sorted({c for plan in plans.values() for c in plan.codes}))
        col = {c: j for j, c in enumerate(codes)}
        values = np.full((len(rows), len(codes)), np.nan)
        missing = np.ones((len(rows), len(codes)), dtype=np.bool_)
        for i, row in enumerate(rows):
            for code, raw in row.values.items():
                j = col.get(code)
                if j is None or raw is None:
                    continue
                missing[i, j] = False
                try:
                    values[i, j] = float(raw)
                except (TypeError, ValueError):
                    values[i, j] = np.nan
        return cls(
            standard_ids=np.array([r.standard_id for r in rows], dtype=np.str_),
            standard_numbers=np.array([r.standard_number for r in rows], dtype=np.str_),
            categories=np.array([r.category for r in rows], dtype=np.str_),
            indicator_codes=codes,
            values=values,
            plans=plans,
            missing=missing,
            excluded=excluded or {},
        )
