"""Ranking engine for the forerunner (领跑者) platform: tiered and composite ranking.

Pure numpy, no I/O. ``rank(batch)`` ranks every category of a ``CandidateBatch`` (each with
its own ``Plan``) in one vectorised pass and returns an ``EngineResult``; ``explain(result,
standard_id)`` gives the figures behind one standard's outcome. ``rank`` is plain
synchronous CPU work: run it in a worker thread or process, not on an event loop.

Rules, in short (details in ``core``):

* Eligibility (入围资格): every core indicator present, a finite number, and at or better
  than the baseline (direction-aware); plus anything the caller pre-excluded.
* Tiers (分档), 1 is best, among eligible candidates, per indicator that discriminates (at
  least two distinct eligible values; otherwise no tier list and weight 0):
  cut points put a value at or better than a cut into the better tier; k quantile tiers use
  tier = 1 + floor(k * b / n) with b the number of strictly better eligible values, so
  equal values share a tier and a tie on a boundary moves up whole. Inside a tier there is
  no order: tier lists are in standard-number order.
* Composite (综合评分): s = clip((x - baseline) / (reference - baseline), 0, 1) in
  higher-is-better terms; reference = benchmark (best if the indicator has none), best, or
  mean of the best k eligible values (all of them if fewer than k); weights renormalised
  over the discriminating indicators; score = 100 * sum(w * s) / sum(w).
* Ties: scores within ``TIE_TOLERANCE`` (1e-9 on the 0-100 scale) of the next higher score
  tie (chained, after sorting), so 0.1 + 0.2 ties 0.3. Competition ranks (1, 2, 2, 4).
  Tiered plans rank by tier profile: more tier-1 indicators first, then a smaller sum of
  tiers; equal profiles tie. Display order inside a tie: standard number, then id.
* Selection (遴选): top_tier_all = tier 1 on every discriminating indicator (all eligible if
  none discriminates); top_n / top_percent (count = ceil(p% of eligible)) cut the rank
  order and take the whole tie the cut falls in (``tie_extended``, ``added``). A cap also
  never splits a tie: ``CapTies.KEEP`` (default) keeps the whole tie and reports it as
  added, ``CapTies.DROP`` drops it and reports ``cap_dropped``.
* Determinism: rows are processed in the canonical order (category, standard number,
  standard id; plain code-point order), so any input order gives byte-identical output.
  ``EngineResult.input_digest()`` and ``result_digest()`` are SHA-256 digests of canonical
  serialisations of the inputs and the output; ``ENGINE_VERSION`` versions the rules. A
  stored run keeps all three; recomputing it means checking the version, ranking the same
  inputs (same input digest) and comparing result digests.
"""

from .core import ENGINE_VERSION, TIE_TOLERANCE, rank
from .explain import Explanation, IndicatorExplanation, explain
from .model import (
    Candidate,
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
)
from .result import (
    CandidateOutcome,
    CategoryResult,
    EngineResult,
    Exclusion,
    IndicatorOutcome,
    SelectionOutcome,
)

__all__ = [
    "ENGINE_VERSION",
    "TIE_TOLERANCE",
    "Candidate",
    "CandidateBatch",
    "CandidateOutcome",
    "CapTies",
    "CategoryResult",
    "Direction",
    "EngineResult",
    "Exclusion",
    "ExclusionReason",
    "Explanation",
    "Indicator",
    "IndicatorExplanation",
    "IndicatorOutcome",
    "Method",
    "Plan",
    "Reference",
    "Selection",
    "SelectionOutcome",
    "SelectionRule",
    "Tiering",
    "explain",
    "rank",
]
