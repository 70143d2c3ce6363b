"""Golden digests: a fixed set of generated batches and the digests the engine gives them.

``golden_digests.json`` beside this file holds, for every case below, the input digest, the
result digest and a digest of every standard's explanation, together with the
``ENGINE_VERSION`` that produced them. ``test_determinism`` compares a fresh run against the
file, and runs this module in subprocesses with other hash seeds and thread counts.

The file may only change together with an ``ENGINE_VERSION`` bump: stored runs are re-run
and compared by digest, so a change of output under the same version breaks them. To
regenerate after a bump (or to add a case), run from the repository root::

    .venv/bin/python -m tests.ranking.engine.golden --write

``--write`` refuses to change an existing digest while ``ENGINE_VERSION`` is unchanged.
Without ``--write`` the module prints the digests it computes as JSON (the subprocess check).

Inputs come from a small splitmix64 generator written out here, not from numpy's random
streams, so the cases themselves can not drift with a numpy upgrade.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.ranking.engine import (
    ENGINE_VERSION,
    CandidateBatch,
    CapTies,
    Direction,
    Indicator,
    Method,
    Plan,
    Reference,
    Selection,
    SelectionRule,
    Tiering,
    explain,
    rank,
)

from .helpers import Row, batch_of

GOLDEN_FILE = Path(__file__).with_name("golden_digests.json")
_MASK = (1 << 64) - 1


class SplitMix:
    """splitmix64: a tiny, fully specified generator (same numbers everywhere, forever)."""

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        return self.next() % n

    def chance(self, per_mille: int) -> bool:
        return self.below(1000) < per_mille

    def pick(self, items: list[Any]) -> Any:
        return items[self.below(len(items))]

    def shuffle(self, items: list[Any]) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


CODES = ["a", "b", "c", "d", "e"]


def _plan(rng: SplitMix) -> Plan:
    """A plan over 1-4 of the codes, with every option the engine has drawn at random."""
    codes = sorted(rng.pick([CODES[:1], CODES[:2], CODES[1:4], CODES[:4], CODES[2:]]))
    indicators = []
    for code in codes:
        direction = rng.pick([Direction.HIGHER, Direction.LOWER])
        sign = 1 if direction is Direction.HIGHER else -1
        baseline = 50.0 - sign * 10.0  # values are drawn around 50
        if rng.chance(400):
            cuts = sorted({baseline + sign * (2 + rng.below(20)) for _ in range(1 + rng.below(3))})
            tiering = Tiering(cuts=tuple(cuts))
        else:
            tiering = Tiering.quantile(2 + rng.below(4))
        indicators.append(
            Indicator(
                code,
                direction,
                baseline=baseline,
                benchmark=baseline + sign * (15 + rng.below(10)) if rng.chance(500) else None,
                weight=float(1 + rng.below(4)) / (1 if rng.chance(700) else 3),
                tiering=tiering,
            )
        )
    rule = rng.pick(list(SelectionRule))
    cap = 1 + rng.below(6) if rng.chance(400) else None
    selection = Selection(
        rule,
        n=1 + rng.below(8) if rule is SelectionRule.TOP_N else None,
        percent=rng.pick([5.0, 12.5, 33.333333, 50.0, 100.0])
        if rule is SelectionRule.TOP_PERCENT
        else None,
        cap=cap,
        cap_ties=rng.pick([CapTies.KEEP, CapTies.DROP]),
    )
    return Plan(
        tuple(indicators),
        selection,
        method=rng.pick([Method.COMPOSITE, Method.COMPOSITE, Method.TIERED]),
        reference=rng.pick(list(Reference)),
        reference_k=1 + rng.below(5),
    )


def _value(rng: SplitMix, spread: int) -> float | str | None:
    """Around 50 in steps of 0.5 (many ties); sometimes missing, not a number or extreme."""
    roll = rng.below(1000)
    if roll < 15:
        return None
    if roll < 22:
        return rng.pick(["nan", "inf", "-inf", "n/a"])
    return 50.0 + (rng.below(2 * spread + 1) - spread) / 2


def generated(seed: int, n: int, n_cat: int) -> CandidateBatch:
    rng = SplitMix(seed)
    plans = {f"cat{c:03d}": _plan(rng) for c in range(n_cat)}
    # One category (of several) with one distinct value per indicator: none discriminates.
    flat = f"cat{n_cat - 1:03d}" if n_cat > 1 else None
    names = sorted(plans)
    rows: list[Row] = []
    for i in range(n):
        category = names[rng.below(len(names))]
        spread = 0 if category == flat else rng.pick([4, 12, 30])
        values = {code: _value(rng, spread) for code in CODES if rng.chance(990)}
        # Numbers repeat now and then, so equal numbers fall back to the id.
        number = f"Q/12TJ {rng.below(max(n // 2, 1)):05d}-2024"
        rows.append((f"std-{i:05d}", number, category, values))
    rng.shuffle(rows)
    excluded = {r[0]: "complaint upheld" for r in rows if rng.chance(20)}
    return batch_of(plans, rows, excluded)


def near_ties() -> CandidateBatch:
    """Scores a float-noise apart: chained ties put back in number order."""
    plan = Plan(
        (Indicator("x", Direction.HIGHER, baseline=0.0, benchmark=1.0),),
        Selection(SelectionRule.TOP_N, n=3),
    )
    # 0.3 and its neighbours tie (score gaps 4e-10 apart, chained); 0.6 + 5e-11 is 5e-9
    # points above 0.6, more than TIE_TOLERANCE: no tie.
    values = [0.3, 0.1 + 0.2, 0.3 + 4e-12, 0.3 - 4e-12, 0.3 + 8e-12, 0.2, 0.2, 0.6, 0.6 + 5e-11]
    rows: list[Row] = [(f"id{i}", f"N{(7 * i) % 9}", "k", {"x": v}) for i, v in enumerate(values)]
    return batch_of({"k": plan, "empty": plan}, rows)


CASES: dict[str, Callable[[], CandidateBatch]] = {
    "near_ties": near_ties,
    "small": lambda: generated(1, 40, 3),
    "medium": lambda: generated(2, 400, 12),
    "many_categories": lambda: generated(3, 3000, 60),
    "one_large_category": lambda: generated(4, 2500, 1),
}

_EXPLAIN_UP_TO = 500  # rows; explaining every standard of a bigger case costs too much


def digests(name: str) -> dict[str, str]:
    batch = CASES[name]()
    result = rank(batch)
    out = {"input": result.input_digest(), "result": result.result_digest()}
    if len(batch) <= _EXPLAIN_UP_TO:
        text = json.dumps(
            [explain(result, s).to_dict() for s in sorted(batch.standard_ids.tolist())],
            sort_keys=True,
        )
        out["explain"] = hashlib.sha256(text.encode()).hexdigest()
    return out


def compute() -> dict[str, Any]:
    return {"engine_version": ENGINE_VERSION, "cases": {name: digests(name) for name in CASES}}


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN_FILE.read_text())
    return data


def _write(fresh: dict[str, Any]) -> None:
    if GOLDEN_FILE.exists():
        old = load()
        if old["engine_version"] == fresh["engine_version"]:
            changed = [
                name
                for name, d in old["cases"].items()
                if name in fresh["cases"] and fresh["cases"][name] != d
            ]
            if changed:
                sys.exit(f"digests of {changed} changed under ENGINE_VERSION {ENGINE_VERSION}")
    GOLDEN_FILE.write_text(json.dumps(fresh, indent=2, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description="Print or rewrite the golden engine digests.")
    parser.add_argument("--write", action="store_true", help=f"rewrite {GOLDEN_FILE.name}")
    args = parser.parse_args()
    fresh = compute()
    if args.write:
        _write(fresh)
    else:
        # hash() of a str shows which PYTHONHASHSEED the process really ran with.
        fresh["str_hash"] = hash("forerunner")
        print(json.dumps(fresh, sort_keys=True))


if __name__ == "__main__":
    main()
