"""Small builders shared by the engine tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import SupportsFloat

from services.ranking.engine import (
    Candidate,
    CandidateBatch,
    CandidateOutcome,
    EngineResult,
    Plan,
    rank,
)

Row = tuple[str, str, str, Mapping[str, SupportsFloat | str | None]]


def batch_of(
    plans: Mapping[str, Plan],
    rows: Sequence[Row],
    excluded: Mapping[str, str] | None = None,
) -> CandidateBatch:
    """Rows are (standard id, standard number, category, {indicator code: value})."""
    return CandidateBatch.from_candidates(
        [Candidate(i, num, cat, vals) for i, num, cat, vals in rows],
        plans,
        excluded,
    )


def run(
    plans: Mapping[str, Plan],
    rows: Sequence[Row],
    excluded: Mapping[str, str] | None = None,
) -> EngineResult:
    return rank(batch_of(plans, rows, excluded))


def outcomes(result: EngineResult) -> dict[str, CandidateOutcome]:
    return {o.standard_id: o for cat in result.categories() for o in cat.ranking()}


def display(result: EngineResult, category: str) -> list[str]:
    return [o.standard_id for o in result.category(category).ranking()]
