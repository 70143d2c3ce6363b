"""Progress (进展): forerunners by year, level and key area against the regulator's targets,
and how many items reached each stage from run to title."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit import audit
from services.kit.auth import Principal
from services.ranking import policy
from services.ranking.models import Target, kit_tables
from services.ranking.stats import repository
from services.ranking.stats.schemas import GroupCount, Stages, Stats, TargetIn, TargetProgress


async def stats(session: AsyncSession, year: int | None) -> Stats:
    groups = [
        GroupCount(
            year=r.year,
            level=r.level,
            key_area_id=r.key_area_id,
            key_area=r.name,
            granted=r.granted,
            active=r.active,
        )
        for r in await repository.by_group(session, year)
    ]
    progress = []
    for t in await repository.targets(session):
        done = await repository.achieved(session, t.level, t.by)
        progress.append(
            TargetProgress(
                level=t.level,
                by=t.by,
                target=t.count,
                achieved=done,
                remaining=max(t.count - done, 0),
                note=t.note,
            )
        )
    stages = Stages(**await repository.stage_counts(session, year))
    return Stats(forerunners=groups, targets=progress, stages=stages)


async def set_target(session: AsyncSession, principal: Principal, body: TargetIn) -> Target:
    policy.require_regulator(principal)
    target = await repository.upsert_target(
        session, body.level, body.by, body.count, body.note, principal.sub
    )
    await audit.record(
        session,
        kit_tables,
        principal,
        "set_target",
        "target",
        f"{body.level}:{body.by.isoformat()}",
        {"count": body.count},
    )
    return target


async def targets(session: AsyncSession) -> list[Target]:
    return await repository.targets(session)
