"""Why a candidate is not eligible: the one source of the exclusion reasons.

``ExclusionReason`` is what results and explanations show (its values are part of the API);
``ReasonCode`` is the small integer the engine stores per cell of ``reason_codes``. Every
cell reason has exactly one code; a pre-exclusion belongs to the row, not to a cell, so it
has none.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = ["EXCLUSION_REASONS", "ExclusionReason", "ReasonCode"]


class ExclusionReason(StrEnum):
    """Why a candidate is not eligible."""

    PRE_EXCLUDED = "pre_excluded"  # excluded by the caller (e.g. oversight), reason given
    MISSING = "missing"  # a core indicator has no value
    NOT_FINITE = "not_finite"  # a core indicator is NaN/inf where a number was expected
    BELOW_BASELINE = "below_baseline"  # worse than the baseline (基准值), direction-aware


class ReasonCode(IntEnum):
    """The int8 stored in ``reason_codes`` for one (candidate, indicator) cell.

    A cell gets one code even when several apply: missing wins over not finite, which
    wins over below the baseline. Compare arrays with ``.value``: a plain int keeps numpy
    in int8 (an IntEnum would widen the whole array first).
    """

    OK = 0
    MISSING = 1
    NOT_FINITE = 2
    BELOW_BASELINE = 3

    @property
    def reason(self) -> ExclusionReason | None:
        """The reason shown for this code; None for OK."""
        return EXCLUSION_REASONS.get(self)


# The reason shown for each code other than OK.
EXCLUSION_REASONS = {
    ReasonCode.MISSING: ExclusionReason.MISSING,
    ReasonCode.NOT_FINITE: ExclusionReason.NOT_FINITE,
    ReasonCode.BELOW_BASELINE: ExclusionReason.BELOW_BASELINE,
}
