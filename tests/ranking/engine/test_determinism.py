"""Byte-level determinism: canonical input and output digests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services.ranking.engine import (
    ENGINE_VERSION,
    CandidateBatch,
    Direction,
    Indicator,
    Plan,
    Selection,
    SelectionRule,
    rank,
)

from . import golden
from .helpers import batch_of
from .test_examples import FRIDGE, FRIDGE_ROWS, WASHER, WASHER_ROWS

PLANS = {"fridge": FRIDGE, "washer": WASHER}
ROWS = FRIDGE_ROWS + WASHER_ROWS

# Digests of the two hand-worked categories. They pin the rules and the serialisation: if
# one has to change, stored runs no longer reproduce and ENGINE_VERSION must change too.
GOLDEN_INPUT_DIGEST = "5b848c19c9b2bfd041f0529c29e15493191f043cb4755c266396ef2bb9fcc256"
GOLDEN_RESULT_DIGEST = "2f5940877e8c286b17878de7d26cf3f522c4f763d31baa6f527946e1e4f880cd"


def _batch(rows: list = ROWS, plans: dict = PLANS) -> CandidateBatch:  # type: ignore[type-arg]
    return batch_of(plans, rows, excluded={"b": "complaint upheld"})


def test_engine_version_is_semver_and_matches_the_golden_file() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", ENGINE_VERSION)
    assert rank(_batch()).engine_version == ENGINE_VERSION
    # Output and version move together: a bump comes with regenerated golden digests.
    assert golden.load()["engine_version"] == ENGINE_VERSION


def test_golden_digests() -> None:
    result = rank(_batch())
    assert re.fullmatch(r"[0-9a-f]{64}", result.result_digest())
    assert result.input_digest() == GOLDEN_INPUT_DIGEST
    assert result.result_digest() == GOLDEN_RESULT_DIGEST


def test_digests_ignore_input_order() -> None:
    first = rank(_batch())
    again = rank(
        batch_of(
            dict(reversed(list(PLANS.items()))),
            list(reversed(ROWS)),
            excluded={"b": "complaint upheld"},
        )
    )
    assert again.input_digest() == first.input_digest()
    assert again.result_digest() == first.result_digest()


def test_digests_ignore_column_order_and_array_width() -> None:
    base = _batch()
    cols = list(reversed(range(len(base.indicator_codes))))
    assert base.missing is not None
    flipped = CandidateBatch(
        standard_ids=base.standard_ids.astype("<U40"),  # wider dtype, same strings
        standard_numbers=base.standard_numbers,
        categories=base.categories,
        indicator_codes=tuple(base.indicator_codes[j] for j in cols),
        values=base.values[:, cols],
        plans=base.plans,
        missing=base.missing[:, cols],
        excluded=base.excluded,
    )
    assert rank(flipped).input_digest() == rank(base).input_digest()
    assert rank(flipped).result_digest() == rank(base).result_digest()


def test_equal_plans_written_differently_hash_the_same() -> None:
    a = Plan(
        (
            Indicator("x", Direction.HIGHER, baseline=60, benchmark=100, weight=2),
            Indicator("y", Direction.LOWER, baseline=5),
        ),
        Selection(SelectionRule.TOP_PERCENT, percent=10),
    )
    b = Plan(
        (
            Indicator("y", Direction.LOWER, baseline=5.0),
            Indicator("x", "higher", baseline=60.0, benchmark=100.0, weight=2.0),  # type: ignore[arg-type]
        ),
        Selection("top_percent", percent=10.0),  # type: ignore[arg-type]
    )
    assert a.canonical() == b.canonical()
    rows = [("s", "1", "k", {"x": 70, "y": 3})]
    assert (
        rank(batch_of({"k": a}, rows)).input_digest()
        == rank(batch_of({"k": b}, rows)).input_digest()
    )


def test_input_digest_tracks_every_input_that_matters() -> None:
    base = rank(_batch()).input_digest()
    changed_value = [r if r[0] != "d" else (*r[:3], {"eff": 71, "noise": 50}) for r in ROWS]
    assert rank(_batch(changed_value)).input_digest() != base
    heavier = replace(FRIDGE, indicators=(replace(FRIDGE.indicators[0], weight=2.0),))
    assert rank(_batch(plans={**PLANS, "fridge": heavier})).input_digest() != base
    assert rank(batch_of(PLANS, ROWS)).input_digest() != base  # no pre-exclusion
    renumbered = [r if r[0] != "d" else ("d", "GB-0009", *r[2:]) for r in ROWS]
    assert rank(_batch(renumbered)).input_digest() != base


def test_cells_outside_the_plan_do_not_matter() -> None:
    base = _batch()
    values = base.values.copy()
    # "standby" is not a fridge indicator: its fridge cells are never read.
    j = base.indicator_codes.index("standby")
    fridge_rows = base.categories == "fridge"
    values[fridge_rows, j] = 123.0
    assert base.missing is not None
    missing = base.missing.copy()
    missing[fridge_rows, j] = False
    other = replace(base, values=values, missing=missing)
    assert rank(other).input_digest() == rank(base).input_digest()
    assert rank(other).result_digest() == rank(base).result_digest()


def test_result_digest_tracks_outcomes() -> None:
    base = rank(_batch())
    changed = [r if r[0] != "d" else (*r[:3], {"eff": 95, "noise": 41}) for r in ROWS]
    assert rank(_batch(changed)).result_digest() != base.result_digest()


def test_negative_zero_and_nan_payloads_are_canonical() -> None:
    plan = Plan((Indicator("v", Direction.LOWER, baseline=1.0),), Selection("top_n", n=1))  # type: ignore[arg-type]
    odd_nan = np.frombuffer(np.uint64(0x7FF8000000000123).tobytes(), np.float64)[0]

    def batch(zero: float, nan: float) -> CandidateBatch:
        return CandidateBatch(
            standard_ids=np.array(["a", "b", "c"]),
            standard_numbers=np.array(["1", "2", "3"]),
            categories=np.array(["k", "k", "k"]),
            indicator_codes=("v",),
            values=np.array([[zero], [0.5], [nan]]),
            plans={"k": plan},
        )

    plain, odd = rank(batch(0.0, np.nan)), rank(batch(-0.0, odd_nan))
    assert odd.input_digest() == plain.input_digest()
    assert odd.result_digest() == plain.result_digest()


def test_to_dict_carries_version_and_digests() -> None:
    result = rank(_batch())
    data = result.to_dict()
    assert data["engine_version"] == ENGINE_VERSION
    assert data["input_digest"] == result.input_digest()
    assert data["result_digest"] == result.result_digest()


@pytest.fixture(scope="module")
def fresh_digests() -> dict[str, Any]:
    return golden.compute()


@pytest.mark.parametrize("case", sorted(golden.CASES))
def test_generated_cases_match_committed_digests(case: str, fresh_digests: dict[str, Any]) -> None:
    """Digests computed by an earlier build of the engine and committed in
    golden_digests.json (see golden.py for when and how they may be regenerated)."""
    assert fresh_digests["cases"][case] == golden.load()["cases"][case]


def test_other_processes_hash_seeds_and_thread_counts_agree(
    fresh_digests: dict[str, Any],
) -> None:
    root = Path(__file__).resolve().parents[3]
    runs = []
    for seed, threads in (("1", "1"), ("2", "2")):
        env = {
            **os.environ,
            "PYTHONHASHSEED": seed,
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        }
        out = subprocess.run(
            [sys.executable, "-m", "tests.ranking.engine.golden"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        runs.append(json.loads(out.stdout))
    # The seeds really differed: str hashes (and so set and dict layouts) differ.
    assert runs[0]["str_hash"] != runs[1]["str_hash"]
    for other in runs:
        assert other["engine_version"] == ENGINE_VERSION
        assert other["cases"] == fresh_digests["cases"]
