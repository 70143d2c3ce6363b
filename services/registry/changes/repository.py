"""Writing and reading the change feed (see models.Change for the ordering rule)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, insert, literal_column, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import Change


async def record(
    session: AsyncSession,
    kind: str,
    uscc: str,
    *,
    standard_id: uuid.UUID | None = None,
    version: int | None = None,
    category_code: str | None = None,
) -> None:
    await session.execute(
        insert(Change).values(
            kind=kind,
            uscc=uscc,
            standard_id=standard_id,
            version=version,
            category_code=category_code,
        )
    )


_OPTIONAL = ("standard_id", "version", "category_code")


async def record_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany for a mixed batch: every row gets the same keys (None where absent)."""
    if rows:
        await session.execute(insert(Change), [{**dict.fromkeys(_OPTIONAL), **row} for row in rows])


# Transactions below this id have all finished: their rows can no longer appear or vanish.
_HORIZON: ColumnElement[int] = literal_column(
    "(pg_snapshot_xmin(pg_current_snapshot()))::text::bigint"
)


async def read(
    session: AsyncSession, after: tuple[int, int] | None, limit: int
) -> Sequence[Change]:
    stmt = select(Change).where(Change.txid < _HORIZON)
    if after is not None:
        stmt = stmt.where(tuple_(Change.txid, Change.id) > tuple_(*after))
    stmt = stmt.order_by(Change.txid, Change.id).limit(limit + 1)
    return (await session.execute(stmt)).scalars().all()


async def count(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Change))).scalar_one()
