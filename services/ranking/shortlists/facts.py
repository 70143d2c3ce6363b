"""What a shortlist entry carries besides the run's row: the tier bands its core indicators
must keep (from the run's pinned snapshot), and the region and product barcodes of the
pinned version (from the registry), so that titles answer lookups without asking anyone."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.clients.registry import Product, RegistryClient
from services.kit.http import ServiceError
from services.kit.problems import ServiceUnavailable
from services.ranking.models import RunResult
from services.ranking.plans.schemas import PlanContent

REGISTRY_CONCURRENCY = 8


def _worse(direction: str, a: float, b: float) -> bool:
    return a < b if direction == "higher" else a > b


def thresholds(
    content: PlanContent,
    snapshot: dict[str, Any],
    run_tiers: Sequence[tuple[str, str, Any]],
    selected: Sequence[RunResult],
) -> dict[str, dict[str, Any]]:
    """Per selected standard id, per core indicator: direction, baseline, its tier and the
    worst value inside that tier in the run (the floor a later version must still reach)."""
    cand = snapshot["candidates"]
    index = {sid: i for i, sid in enumerate(cand["standard_id"])}
    specs = {s.code: s for s in content.indicators}
    floors: dict[tuple[str, str, int], float] = {}
    bands: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for sid, category, tiers in run_tiers:
        for code, tier in (tiers or {}).items():
            value = cand["values"].get(code, [None] * len(index))[index[sid]]
            if tier is not None and value is not None:
                bands[(category, code, tier)].append(float(value))
    for key, values in bands.items():
        direction = specs[key[1]].direction or "higher"
        floors[key] = min(values) if direction == "higher" else max(values)
    out: dict[str, dict[str, Any]] = {}
    for row in selected:
        sid = str(row.standard_id)
        mine: dict[str, Any] = {}
        for code, spec in specs.items():
            tier = (row.tiers or {}).get(code)
            mine[code] = {
                "direction": spec.direction or "higher",
                "baseline": spec.baseline,
                "unit": spec.unit,
                "tier": tier,
                "floor": floors.get((row.category, code, tier)) if tier is not None else None,
            }
        out[sid] = mine
    return out


def shortfall(thresholds: dict[str, Any], values: dict[str, float | None]) -> str | None:
    """Why a new version's values no longer hold the title, or None when they do."""
    for code, t in sorted(thresholds.items()):
        value = values.get(code)
        if value is None:
            return f"the new version no longer declares core indicator {code}"
        if _worse(t["direction"], value, t["baseline"]):
            return f"{code} {value:g} is below the plan's baseline {t['baseline']:g}"
        if t.get("floor") is not None and _worse(t["direction"], value, t["floor"]):
            return f"{code} {value:g} falls out of tier {t['tier']} (its floor is {t['floor']:g})"
    return None


@dataclass(frozen=True)
class Facts:
    region: str
    barcodes: list[str]


def _barcodes(products: Sequence[Product]) -> list[str]:
    return sorted({p.barcode.strip() for p in products if p.barcode and p.barcode.strip()})


async def _one(registry: RegistryClient, row: RunResult, gate: asyncio.Semaphore) -> Facts:
    async with gate:
        standard = await registry.get_standard(row.standard_id)
        products = standard.content.products
        if standard.current_version != row.standard_version:
            # The run ranked an earlier version: its products are the ones titled.
            pinned = await registry.get_version(row.standard_id, row.standard_version)
            products = pinned.content.products
    return Facts(region=standard.region, barcodes=_barcodes(products))


async def registry_facts(registry: RegistryClient, rows: Sequence[RunResult]) -> list[Facts]:
    gate = asyncio.Semaphore(REGISTRY_CONCURRENCY)
    try:
        return list(await asyncio.gather(*(_one(registry, r, gate) for r in rows)))
    except ServiceError as exc:
        raise ServiceUnavailable(
            "the registry could not be asked about the shortlisted standards; try again later",
            code="registry_unavailable",
        ) from exc
