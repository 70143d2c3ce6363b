"""Counts for the progress report."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.models import KeyArea, Run, ShortlistEntry, Target, Title

NOT_REVOKED = Title.status != "revoked"


async def by_group(session: AsyncSession, year: int | None) -> list[Any]:
    stmt = (
        select(
            Title.year,
            Title.level,
            Title.key_area_id,
            KeyArea.name,
            func.count().filter(NOT_REVOKED).label("granted"),
            func.count().filter(Title.status == "active").label("active"),
        )
        .join(KeyArea, KeyArea.id == Title.key_area_id)
        .group_by(Title.year, Title.level, Title.key_area_id, KeyArea.name)
        .order_by(Title.year, Title.level, KeyArea.name)
    )
    if year is not None:
        stmt = stmt.where(Title.year == year)
    return list((await session.execute(stmt)).all())


async def targets(session: AsyncSession) -> list[Target]:
    stmt = select(Target).order_by(Target.by, Target.level)
    return list((await session.execute(stmt)).scalars())


async def achieved(session: AsyncSession, level: str, by: date) -> int:
    stmt = select(func.count()).where(
        Title.level == level,
        NOT_REVOKED,
        cast(func.timezone("Asia/Shanghai", Title.granted_at), Date) <= by,
    )
    return int((await session.execute(stmt)).scalar_one())


async def stage_counts(session: AsyncSession, year: int | None) -> dict[str, int]:
    runs = select(
        func.count().label("runs"),
        func.count().filter(Run.state == "succeeded").label("runs_succeeded"),
    )
    entries = select(
        func.count().label("shortlisted"),
        func.count()
        .filter(ShortlistEntry.state.in_(("committed", "titled", "rejected")))
        .label("committed"),
        func.count().filter(ShortlistEntry.state == "opted_out").label("opted_out"),
        func.count().filter(ShortlistEntry.state == "lapsed").label("lapsed"),
    )
    titles = select(
        func.count().label("titled"),
        *(
            func.count().filter(Title.status == s).label(s)
            for s in ("active", "suspended", "expired", "revoked")
        ),
    )
    if year is not None:
        titles = titles.where(Title.year == year)
    out: dict[str, int] = {}
    for stmt in (runs, entries, titles):
        out.update({k: int(v) for k, v in (await session.execute(stmt)).one()._mapping.items()})
    return out


async def upsert_target(
    session: AsyncSession, level: str, by: date, count: int, note: str | None, set_by: str
) -> Target:
    values = {"level": level, "by": by, "count": count, "note": note, "set_by": set_by}
    stmt = (
        insert(Target)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[Target.level, Target.by],
            set_={"count": count, "note": note, "set_by": set_by, "updated_at": func.now()},
        )
        .returning(Target)
    )
    return (await session.execute(stmt)).scalar_one()
