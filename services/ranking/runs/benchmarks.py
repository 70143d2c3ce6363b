"""对标: where one current standard stands against a plan's latest succeeded run.

The standard's current version (also one the run never saw) is put into the run's snapshot in
place of any older version of it, the snapshot is ranked again, and the engine's explanation
of that standard answers: per indicator the tier it would get and the value that alone would
reach the forerunner cut; whether it would be eligible, and what would make it so. Percentiles
compare it with the values the run itself ranked.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from services.clients.registry import (
    DISCLOSURE_LINE,
    DisclosureLine,
    RegistryClient,
    StandardRecord,
)
from services.kit.auth import Principal
from services.kit.http import ServiceError, ServiceNotFound
from services.kit.problems import NotFound, ServiceUnavailable, ValidationFailed
from services.ranking import engine, policy
from services.ranking.plans import repository as plans
from services.ranking.plans.schemas import PlanContent
from services.ranking.runs import repository
from services.ranking.runs import snapshot as snap
from services.ranking.runs.results import ResultCache
from services.ranking.runs.schemas import BenchmarkIndicator, BenchmarkOut

OVERSIGHT_MARK = "excluded by oversight"


async def _standard(registry: RegistryClient, standard_id: uuid.UUID) -> StandardRecord:
    try:
        return await registry.get_standard(standard_id)
    except ServiceNotFound:
        raise NotFound("no such standard in the registry") from None
    except ServiceError as exc:
        raise ServiceUnavailable(
            "the registry could not be asked; try again later", code="registry_unavailable"
        ) from exc


def with_candidate(
    snapshot: dict[str, Any], disclosure: DisclosureLine
) -> tuple[dict[str, Any], bool]:
    """The snapshot with this disclosure's current version in place of any older one, and
    whether the run had the standard. An oversight exclusion the run applied still holds."""
    one = snap.build(
        snap.Inputs(
            snapshot["plan_id"], snapshot["plan_version"], snapshot["plan"], [disclosure], []
        )
    )
    out = copy.deepcopy(snapshot)
    cand, sid = out["candidates"], disclosure["id"]
    ids: list[str] = cand["standard_id"]
    in_run = sid in ids
    i = ids.index(sid) if in_run else len(ids)
    for key, column in cand.items():
        if key == "values":
            for code, values in column.items():
                value = one["candidates"]["values"][code][0]
                values[i : i + 1] = [value]
        else:
            column[i : i + 1] = [one["candidates"][key][0]]
    why = [one["excluded"][sid]] if sid in one["excluded"] else []
    earlier = out["excluded"].pop(sid, "")
    why += [part for part in earlier.split("; ") if part.startswith(OVERSIGHT_MARK)]
    if why:
        out["excluded"][sid] = "; ".join(why)
    return out, in_run


def _percentile(
    result: engine.EngineResult,
    category: str,
    code: str,
    sid: str,
    value: float | None,
    direction: str,
) -> float | None:
    if value is None or code not in result.indicator_codes:
        return None
    cat = result.category(category)
    rows = np.arange(cat.rows.start, cat.rows.stop)
    rows = rows[result.eligible[rows] & (result.standard_ids[rows] != sid)]
    if rows.size == 0:
        return None
    values = result.values[rows, result.indicator_codes.index(code)]
    sign = 1.0 if direction == "higher" else -1.0
    return float(100.0 * np.count_nonzero(sign * values <= sign * value) / rows.size)


def _advice(why: engine.Explanation) -> list[str]:
    out = []
    for reason in why.reasons:
        code = reason.indicator
        kind = reason.reason
        if kind is engine.ExclusionReason.MISSING:
            out.append(f"disclose {code} in the standard")
        elif kind is engine.ExclusionReason.NOT_FINITE:
            out.append(f"declare {code} as a number")
        elif kind is engine.ExclusionReason.BELOW_BASELINE:
            baseline = why.indicator(code or "").baseline
            out.append(f"bring {code} to its baseline {baseline:g} or better")
        else:
            out.append(f"resolve: {reason.detail}")
    return out


async def benchmark(
    session: AsyncSession,
    principal: Principal | None,
    registry: RegistryClient,
    cache: ResultCache,
    standard_id: uuid.UUID,
    plan_id: uuid.UUID,
) -> BenchmarkOut:
    plan = policy.require_plan_visible(principal, await plans.get(session, plan_id))
    run = await repository.latest_succeeded(session, plan.id)
    if run is None:
        raise NotFound("the plan has no succeeded run to compare with", code="no_run")
    version = await plans.version(session, plan.id, run.plan_version)
    assert version is not None
    content = PlanContent.model_validate(version.content)
    record = await _standard(registry, standard_id)
    if record.category not in content.categories:
        raise ValidationFailed.for_field(
            "standard_id", f"category {record.category} is not ranked by this plan"
        )
    if record.status != "current":
        raise ValidationFailed.for_field(
            "standard_id", "only a current standard can be benchmarked", code="standard_not_current"
        )
    disclosure = DISCLOSURE_LINE.validate_python(
        {
            **record.model_dump(mode="json"),
            "indicators": [i.model_dump() for i in record.content.indicators],
        }
    )
    snapshot, result = await cache.get(session, run.id)
    merged, in_run = with_candidate(snapshot, disclosure)
    hypothetical = await asyncio.to_thread(lambda: engine.rank(snap.batch(merged)))
    sid = str(standard_id)
    why = engine.explain(hypothetical, sid)
    indicators = []
    for ind in why.indicators:
        cut = ind.value_needed
        sign = 1.0 if ind.direction.value == "higher" else -1.0
        gap = None
        if why.selected:
            gap = 0.0
        elif cut is not None and ind.value is not None:
            gap = max(sign * (cut - ind.value), 0.0)
        indicators.append(
            BenchmarkIndicator(
                code=ind.code,
                direction=ind.direction.value,
                value=ind.value,
                baseline=ind.baseline,
                percentile=_percentile(
                    result, record.category, ind.code, sid, ind.value, ind.direction.value
                ),
                tier=ind.tier,
                tier_count=ind.tier_count,
                top_tier_threshold=ind.top_tier_threshold,
                forerunner_cut=cut,
                gap=gap,
            )
        )
    return BenchmarkOut(
        standard_id=standard_id,
        standard_no=record.standard_no,
        standard_version=record.current_version,
        category=record.category,
        plan_id=plan.id,
        run_id=run.id,
        in_run=in_run,
        eligible=why.eligible,
        reasons=[r.to_dict() for r in why.reasons],
        to_become_eligible=_advice(why),
        score=why.score,
        rank=why.rank,
        selected=why.selected,
        cut_score=why.cut_score,
        score_gap=why.score_gap,
        indicators=indicators,
    )
