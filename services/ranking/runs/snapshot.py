"""A run's canonical input snapshot, the engine batch it becomes, and the rows it stores.

Pure and synchronous: the worker calls these in a thread. The snapshot is canonical JSON
(sorted keys, no spaces, candidates in the engine's canonical order), so the same inputs give
the same bytes, and anyone holding it can rebuild the batch and re-rank it.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import Any

import numpy as np

from services.clients.oversight import Exclusion
from services.clients.registry import DeclaredValue, DisclosureLine
from services.ranking import engine
from services.ranking.plans import rules
from services.ranking.plans.schemas import IndicatorSpec, PlanContent

FORMAT = "forerunner.ranking.snapshot/1"


def canonical_json(obj: Any) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def committed(
    operator: str, value: float | None, low: float | None, high: float | None, direction: str
) -> float | None:
    """The figure a declaration commits to; for a range, its worse end (the guaranteed one)."""
    if value is not None:
        return float(value)
    if operator == "range" and low is not None and high is not None:
        return float(low if direction == "higher" else high)
    return None


def declared_value(ind: DeclaredValue, direction: str) -> float | None:
    return committed(
        ind["operator"], ind.get("value"), ind.get("value_min"), ind.get("value_max"), direction
    )


def _worse(direction: str, value: float, baseline: float) -> bool:
    return value < baseline if direction == "higher" else value > baseline


@dataclass(frozen=True)
class Inputs:
    """What a run fetched: the plan version, the category's disclosures, the exclusions."""

    plan_id: str
    plan_version: int
    content: dict[str, Any]
    disclosures: Sequence[DisclosureLine]
    exclusions: Sequence[Exclusion]


def build(inputs: Inputs) -> dict[str, Any]:
    """The snapshot: each candidate pinned to the version it declared, its values for the
    plan's indicators, and why it is excluded before ranking, if it is."""
    content = PlanContent.model_validate(inputs.content)
    specs = sorted(((s.code, s) for s in content.indicators), key=lambda cs: cs[0])
    codes = [code for code, _ in specs]
    wanted = set(content.categories)
    key = itemgetter("category", "standard_no", "id")
    rows = sorted((d for d in inputs.disclosures if d["category"] in wanted), key=key)
    columns: dict[str, list[Any]] = {
        "standard_id": [d["id"] for d in rows],
        "version": [d["current_version"] for d in rows],
        "standard_no": [d["standard_no"] for d in rows],
        "uscc": [d["uscc"] for d in rows],
        "enterprise": [d["enterprise_name"] for d in rows],
        "category": [d["category"] for d in rows],
    }
    values: dict[str, list[float | None]] = {c: [] for c in codes}
    excluded: dict[str, str] = {}
    check = _Checks(content, inputs.exclusions)
    for d in rows:
        declared = {i["code"]: i for i in d.get("indicators") or () if i.get("code")}
        why: list[str] = []
        for code, spec in specs:
            values[code].append(check.value(spec, declared.get(code), why))
        check.exclusion(d, why)
        if why:
            excluded[d["id"]] = "; ".join(why)
    return {
        "format": FORMAT,
        "plan_id": inputs.plan_id,
        "plan_version": inputs.plan_version,
        "plan": content.model_dump(mode="json"),
        "candidates": {**columns, "values": values},
        "excluded": excluded,
        "exclusions_in_force": len(inputs.exclusions),
    }


class _Checks:
    """The per-candidate rules of ``build``: a declared value as the plan compares it, and the
    exclusions before ranking (oversight's, and the plan's own eligibility)."""

    def __init__(self, content: PlanContent, exclusions: Sequence[Exclusion]) -> None:
        self.banned_ids = {str(e.standard_id): e for e in exclusions if e.standard_id}
        self.banned_firms = {e.uscc: e for e in exclusions if e.uscc}
        self.implemented_by = content.eligibility.implemented_by

    @staticmethod
    def value(spec: IndicatorSpec, ind: DeclaredValue | None, why: list[str]) -> float | None:
        """The value the plan ranks (None when missing or in another unit); reasons to
        exclude the candidate go to ``why``."""
        value = None
        if ind is not None:
            value = declared_value(ind, spec.direction or "higher")
            unit = ind.get("unit")
            if unit is not None and unit != spec.unit:
                why.append(f"{spec.code} is declared in {unit!r}, the plan compares {spec.unit!r}")
                value = None
        if spec.weight == 0:
            why.extend(_gate(spec, value))
        return value

    def exclusion(self, d: DisclosureLine, why: list[str]) -> None:
        ban = self.banned_ids.get(d["id"]) or self.banned_firms.get(d["uscc"])
        if ban is not None:
            until = f" until {ban.ends_on.isoformat()}" if ban.ends_on else ""
            why.append(f"excluded by oversight{until}: {ban.reason}".strip())
        by = self.implemented_by
        if by is not None and not _in_force(d.get("implementation_date"), by):
            why.append(f"not in force by {by.isoformat()}")


def _gate(spec: IndicatorSpec, value: float | None) -> list[str]:
    """An eligibility-only indicator (weight 0): disclosed, and at or above its baseline."""
    if value is None:
        return [f"{spec.code} (eligibility indicator) is not disclosed"]
    if _worse(spec.direction or "higher", value, spec.baseline):
        return [f"{spec.code} (eligibility indicator) is below its baseline {spec.baseline}"]
    return []


def _in_force(implemented: date | None, by: date) -> bool:
    return implemented is not None and implemented <= by


def pack(snapshot: dict[str, Any]) -> tuple[bytes, str]:
    """Compressed canonical bytes and the SHA-256 of the uncompressed ones."""
    raw = canonical_json(snapshot)
    return zlib.compress(raw, 1), hashlib.sha256(raw).hexdigest()


def unpack(body: bytes) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(zlib.decompress(body))
    return out


def batch(snapshot: dict[str, Any]) -> engine.CandidateBatch:
    """The engine's input, rebuilt from a snapshot alone."""
    content = PlanContent.model_validate(snapshot["plan"])
    plan, _ = rules.to_engine(content)
    cand = snapshot["candidates"]
    codes = plan.codes
    n = len(cand["standard_id"])
    matrix = np.full((n, len(codes)), np.nan)
    missing = np.ones((n, len(codes)), dtype=np.bool_)
    for j, code in enumerate(codes):
        column = cand["values"][code]
        present = np.fromiter((v is not None for v in column), dtype=np.bool_, count=n)
        matrix[present, j] = [v for v in column if v is not None]
        missing[:, j] = ~present
    return engine.CandidateBatch(
        standard_ids=np.array(cand["standard_id"], dtype=np.str_),
        standard_numbers=np.array(cand["standard_no"], dtype=np.str_),
        categories=np.array(cand["category"], dtype=np.str_),
        indicator_codes=codes,
        values=matrix,
        plans=dict.fromkeys(content.categories, plan),
        missing=missing,
        excluded=snapshot["excluded"],
    )


# --- the rows a run stores ---------------------------------------------------------------------

ROW_COLUMNS = (
    "standard_id",
    "category",
    "position",
    "standard_no",
    "standard_version",
    "uscc",
    "enterprise_name",
    "eligible",
    "score",
    "rank",
    "tied",
    "selected",
    "tiers",
    "reasons",
)


@dataclass(slots=True)
class Row:
    standard_id: str
    category: str
    position: int
    standard_no: str
    standard_version: int
    uscc: str
    enterprise_name: str
    eligible: bool
    score: float | None
    rank: int | None
    tied: bool
    selected: bool
    tiers: dict[str, int | None]
    reasons: list[dict[str, Any]]


def rows(snapshot: dict[str, Any], result: engine.EngineResult) -> list[Row]:
    """One stored row per candidate, in display order inside each category."""
    cand = snapshot["candidates"]
    where = {sid: i for i, sid in enumerate(cand["standard_id"])}
    n = len(result)
    order = result.display_order
    cats = result.category_index
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n) - result.offsets[cats[order]]
    ranks = result.ranks.astype(np.int64)
    key = cats.astype(np.int64) * (n + 1) + ranks
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    tied = (counts[inverse] > 1) & (ranks > 0)
    cols = {c: j for j, c in enumerate(result.indicator_codes)}
    per_category = [[(c, cols[c]) for c in sorted(p.codes)] for p in result.plans]
    ids = result.standard_ids.tolist()
    scores = result.scores.tolist()
    eligible = result.eligible.tolist()
    selected = result.selected.tolist()
    tiers = result.tiers.tolist()
    positions = position.tolist()
    rank_list = ranks.tolist()
    tied_list = tied.tolist()
    cat_list = cats.tolist()
    out = []
    for r in range(n):
        i = where[ids[r]]
        score = scores[r]
        tier_row = tiers[r]
        out.append(
            Row(
                ids[r],
                cand["category"][i],
                positions[r],
                cand["standard_no"][i],
                cand["version"][i],
                cand["uscc"][i],
                cand["enterprise"][i],
                eligible[r],
                None if score != score else score,  # NaN: no score
                rank_list[r] or None,
                tied_list[r],
                selected[r],
                {c: (tier_row[j] or None) for c, j in per_category[cat_list[r]]},
                [] if eligible[r] else [x.to_dict() for x in result.reasons(r)],
            )
        )
    return out


def rows_digest(stored: Iterable[Row]) -> str:
    """SHA-256 of the stored rows in (category, position) order: the same figure from the
    rows a run wrote, from the rows in the database now, and from a fresh engine run."""
    lines = [
        [
            row.standard_id,
            row.category,
            row.position,
            row.standard_version,
            row.eligible,
            None if row.score is None else float(row.score).hex(),
            row.rank,
            row.tied,
            row.selected,
            row.tiers,
            row.reasons,
        ]
        for row in sorted(stored, key=lambda r: (r.category, r.position))
    ]
    return hashlib.sha256(b"forerunner.ranking.rows/1\n" + canonical_json(lines)).hexdigest()
