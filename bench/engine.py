"""Benchmark of the ranking engine against a bare segmented sort.

Run: ``python -m bench.engine`` (1,000,000 candidates x 8 indicators over 1,000 categories,
plus 10,000 candidates in one category) or ``python -m bench.engine --quick`` (100,000 /
100 categories and 10,000 / 1).

The baseline ("bare lexsort") is what any per-indicator ranking must at least do: for each
of the 8 indicator columns, ``np.lexsort((values[:, j], category_code))`` with the category
as a uint16 code, i.e. 8 segmented sorts of the whole array. The engine's time covers
``rank(batch)`` from a batch of numpy columns (string ids/numbers/categories) to the result,
including the canonical sort, eligibility, tiers, scores, ranks and selection; digests are
timed separately because they are computed on demand.

"peak" is the tracemalloc peak of one ``rank(batch)`` call (numpy buffers included, the input
batch excluded): the engine's working memory plus its result. Times are the best of
``--repeats`` runs, engine and baseline alternating.

Synthetic data, fixed seed: values rounded to one decimal (many ties), about 1 % missing, a
few below the baseline, plans mixing directions, quantile and cut-point tiers, composite and
tiered methods, and all selection rules.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from services.ranking.engine import (
    CandidateBatch,
    Direction,
    Indicator,
    Method,
    Plan,
    Reference,
    Selection,
    SelectionRule,
    Tiering,
    rank,
)

SEED = 20240611
N_INDICATORS = 8


def make_plan(rng: np.random.Generator, codes: list[str], kind: int) -> Plan:
    indicators = []
    for j, code in enumerate(codes):
        direction = Direction.LOWER if j % 3 == 2 else Direction.HIGHER
        sign = 1.0 if direction is Direction.HIGHER else -1.0
        baseline = 35.0 if direction is Direction.HIGHER else 65.0  # 2.5 sd: ~5 % fail one
        tiering = (
            Tiering.cut_points(baseline + sign * 10, baseline + sign * 20)
            if j % 4 == 3
            else Tiering.quantile(int(rng.choice([3, 5])))
        )
        indicators.append(
            Indicator(
                code=code,
                direction=direction,
                baseline=baseline,
                benchmark=baseline + sign * 25 if j % 2 == 0 else None,
                weight=float(rng.integers(1, 5)),
                tiering=tiering,
            )
        )
    selection = [
        Selection(SelectionRule.TOP_PERCENT, percent=5.0, cap=40),
        Selection(SelectionRule.TOP_N, n=10),
        Selection(SelectionRule.TOP_TIER_ALL, cap=20),
        Selection(SelectionRule.TOP_PERCENT, percent=12.5),
    ][kind]
    return Plan(
        indicators=tuple(indicators),
        selection=selection,
        method=Method.TIERED if kind == 2 else Method.COMPOSITE,
        reference=[Reference.BENCHMARK, Reference.BEST, Reference.TOP_K_MEAN][kind % 3],
        reference_k=5,
    )


def make_batch(n: int, n_cat: int, seed: int = SEED) -> CandidateBatch:
    rng = np.random.default_rng(seed)
    codes = [f"IND{j}" for j in range(N_INDICATORS)]
    cat_names = np.array([f"C{c:05d}" for c in range(n_cat)])
    cat = rng.integers(0, n_cat, n)
    values = np.round(rng.normal(50.0, 6.0, (n, N_INDICATORS)), 1)
    values[rng.random((n, N_INDICATORS)) < 0.0015] = np.nan  # ~1 % of rows miss something
    salt = rng.integers(0, 1 << 16, n).tolist()
    ids = np.array([f"{i:08x}-{salt[i]:04x}-4000-8000-{i * 7919:012x}" for i in range(n)])
    numbers = np.array([f"Q/12{i % 9973:04d}TJ {i:07d}-2024" for i in range(n)])
    perm = rng.permutation(n)
    # Category c gets plan kind c % 4, so even a one-category run uses top_percent.
    plans = {str(name): make_plan(rng, codes, c % 4) for c, name in enumerate(cat_names)}
    return CandidateBatch(
        standard_ids=ids[perm],
        standard_numbers=numbers[perm],
        categories=cat_names[cat],
        indicator_codes=tuple(codes),
        values=values,
        plans=plans,
    )


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def peak_mib(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def run(label: str, n: int, n_cat: int, repeats: int) -> None:
    batch = make_batch(n, n_cat)
    cat = np.searchsorted(np.array(sorted(batch.plans)), batch.categories).astype(np.uint16)
    columns = [np.ascontiguousarray(batch.values[:, j]) for j in range(batch.values.shape[1])]

    def bare() -> None:
        for col in columns:
            np.lexsort((col, cat))

    # Engine and baseline alternate, so both see the same (shared, noisy) machine.
    t_engine = t_bare = float("inf")
    for _ in range(repeats):
        t, result = best_of(lambda: rank(batch), 1)
        t_engine = min(t_engine, t)
        t_bare = min(t_bare, best_of(bare, 1)[0])
    t_one, _ = best_of(lambda: np.lexsort((columns[0], cat)), repeats)
    start = time.perf_counter()
    result.input_digest()
    result.result_digest()
    t_digest = time.perf_counter() - start
    selected = int(result.selected.sum())
    del result
    peak = peak_mib(lambda: rank(batch))
    print(
        f"engine {label}: {_s(t_engine)}; bare lexsort {_s(t_bare)} "
        f"(8 columns; one column {_s(t_one)}); ratio {t_engine / t_bare:.1f}x; "
        f"peak {peak:.0f} MiB; digests {_s(t_digest)}; selected {selected}"
    )


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        run("100k x 8 / 100 categories", 100_000, 100, args.repeats)
    else:
        run("1M x 8 / 1000 categories", 1_000_000, 1_000, args.repeats)
    run("10k x 8 / 1 category", 10_000, 1, args.repeats)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS {maxrss:.0f} MiB")


if __name__ == "__main__":
    main()
