"""Queries of the notice board."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.oversight.models import ChainHead, Notice, PublicityWindow
from services.oversight.notices.chain import GENESIS

HEAD_ID = 1


async def lock_head(session: AsyncSession) -> ChainHead:
    """The chain head, locked until this transaction ends: appends wait here, one at a time."""
    # The row may be missing on a fresh (or emptied) database; create it without a race.
    await session.execute(
        insert(ChainHead).values(id=HEAD_ID, seq=0, hash=GENESIS).on_conflict_do_nothing()
    )
    head = (
        await session.execute(
            select(ChainHead)
            .where(ChainHead.id == HEAD_ID)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return head


async def advance_head(session: AsyncSession, seq: int, hash_: str) -> None:
    await session.execute(
        update(ChainHead).where(ChainHead.id == HEAD_ID).values(seq=seq, hash=hash_)
    )


async def read_head(session: AsyncSession) -> tuple[int, str]:
    row = (await session.execute(select(ChainHead.seq, ChainHead.hash))).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


async def get(session: AsyncSession, notice_id: uuid.UUID) -> Notice | None:
    return (
        await session.execute(select(Notice).where(Notice.id == notice_id))
    ).scalar_one_or_none()


def listing(kind: str | None, subject_type: str | None, subject_id: str | None) -> Select[Any]:
    stmt = select(Notice)
    if kind:
        stmt = stmt.where(Notice.kind == kind)
    if subject_type:
        stmt = stmt.where(Notice.subject_type == subject_type)
    if subject_id:
        stmt = stmt.where(Notice.subject_id == subject_id)
    return stmt


async def chain_after(session: AsyncSession, after: int, limit: int) -> list[Notice]:
    rows = await session.execute(
        select(Notice).where(Notice.seq > after).order_by(Notice.seq).limit(limit)
    )
    return list(rows.scalars())


async def add_window(session: AsyncSession, notice_id: uuid.UUID, closes_on: date) -> None:
    session.add(PublicityWindow(notice_id=notice_id, closes_on=closes_on))
