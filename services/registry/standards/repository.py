"""Queries of declared standards: the state the planner reads, the rows the writer writes.

The current version of a standard is joined in one place (``CURRENT``). Bulk rows go in by
COPY (many rows) or one multi-row INSERT (a few), updates by primary key in one executemany.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    String,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import note_write
from services.registry.models import (
    Category,
    CategoryIndicator,
    Enterprise,
    Standard,
    StandardVersion,
)
from services.registry.standards.content import Vocabulary
from services.registry.standards.plan import StoredStandard

# A standard joined to its current version.
CURRENT = and_(
    StandardVersion.standard_id == Standard.id, StandardVersion.n == Standard.current_version
)
# From this many rows on, COPY beats one multi-row INSERT (it costs a round trip more).
COPY_FROM_ROWS = 50

_STORED = (
    Standard.id,
    Standard.uscc,
    Standard.source_id,
    Standard.status,
    Standard.current_version,
    Standard.row_version,
    Standard.standard_no_key,
    Standard.category_code,
    StandardVersion.content_hash,
)


async def vocabularies(session: AsyncSession, categories: Iterable[str]) -> Vocabulary:
    """The indicator vocabulary of each known category among ``categories``."""
    wanted = set(categories)
    known = set(
        (await session.execute(select(Category.code).where(Category.code.in_(wanted))))
        .scalars()
        .all()
    )
    vocab: Vocabulary = {code: {} for code in known}
    rows = await session.execute(
        select(CategoryIndicator).where(CategoryIndicator.category_code.in_(known))
    )
    for row in rows.scalars():
        vocab[row.category_code][row.code] = row
    return vocab


async def locate(session: AsyncSession, standard_id: uuid.UUID) -> tuple[str, bool] | None:
    """The enterprise of a standard and whether it is hidden (no lock: to authorise first)."""
    row = (
        await session.execute(
            select(Standard.uscc, Standard.hidden).where(Standard.id == standard_id)
        )
    ).one_or_none()
    return (row.uscc, row.hidden) if row is not None else None


async def lock_by_id(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[Any, StoredStandard]:
    """The standards, locked for update (after their enterprises: see enterprises.repository)."""
    stmt = select(*_STORED).join(StandardVersion, CURRENT).where(Standard.id.in_(set(ids)))
    rows = await session.execute(stmt.with_for_update(of=Standard))
    return {row.id: StoredStandard(*row) for row in rows}


async def lock_by_source(
    session: AsyncSession, source_ids: Iterable[str]
) -> dict[str, StoredStandard]:
    """The standards stored under these source ids, locked for update."""
    wanted = set(source_ids)
    if not wanted:
        return {}
    stmt = select(*_STORED).join(StandardVersion, CURRENT).where(Standard.source_id.in_(wanted))
    rows = await session.execute(stmt.with_for_update(of=Standard))
    return {row.source_id: StoredStandard(*row) for row in rows if row.source_id}


async def owners_of_sources(session: AsyncSession, source_ids: Iterable[str]) -> set[str]:
    """The enterprises of the standards stored under these source ids."""
    wanted = set(source_ids)
    if not wanted:
        return set()
    stmt = select(Standard.uscc).where(Standard.source_id.in_(wanted)).distinct()
    return set((await session.execute(stmt)).scalars())


async def holders(
    session: AsyncSession, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], uuid.UUID]:
    """Which stored standard holds each (enterprise, standard number key)."""
    wanted = set(keys)
    if not wanted:
        return {}
    usccs, numbers = zip(*wanted, strict=True)
    # A join to two unnested arrays: planned once, unlike an IN list of a thousand pairs.
    pairs = (
        func.unnest(
            bindparam("usccs", list(usccs), type_=ARRAY(String)),
            bindparam("numbers", list(numbers), type_=ARRAY(String)),
        )
        .table_valued("uscc", "key")
        .render_derived(name="wanted")
    )
    rows = await session.execute(
        select(Standard.uscc, Standard.standard_no_key, Standard.id).join(
            pairs, and_(Standard.uscc == pairs.c.uscc, Standard.standard_no_key == pairs.c.key)
        )
    )
    return {(row.uscc, row.standard_no_key): row.id for row in rows}


async def current_contents(session: AsyncSession, usccs: Iterable[str]) -> Sequence[Any]:
    """Each standard of these enterprises with its current content (to re-derive its index)."""
    stmt = (
        select(
            Standard.id,
            Standard.uscc,
            Standard.standard_no,
            Standard.row_version,
            StandardVersion.content,
        )
        .join(StandardVersion, CURRENT)
        .where(Standard.uscc.in_(set(usccs)))
    )
    return (await session.execute(stmt)).all()


async def view(session: AsyncSession, standard_id: uuid.UUID) -> Any:
    """A standard, its current content and its enterprise's name; None if there is none."""
    stmt = (
        select(Standard, StandardVersion.content, Enterprise.name)
        .join(StandardVersion, CURRENT)
        .join(Enterprise, Enterprise.uscc == Standard.uscc)
        .where(Standard.id == standard_id)
    )
    return (await session.execute(stmt)).one_or_none()


async def put_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows that all have the same keys: COPY when many, one INSERT when few.

    JSONB values are JSON text (as the driver's codec takes them); the caller has already
    run a statement in this transaction, so the COPY is part of it.
    """
    if not rows:
        return
    if len(rows) < COPY_FROM_ROWS:
        json_columns = [c.name for c in table.columns if isinstance(c.type, JSONB)]
        values = [
            {**row, **{c: cast(literal(row[c], Text), JSONB) for c in json_columns if c in row}}
            for row in rows
        ]
        await session.execute(insert(table).values(values))
        return
    columns = list(rows[0])
    note_write(session, table)  # the ORM does not see a COPY (kit.fresh)
    connection = await (await session.connection()).get_raw_connection()
    driver: Any = connection.driver_connection
    assert driver.is_in_transaction(), "a COPY must not commit on its own"
    await driver.copy_records_to_table(
        table.name,
        schema_name=table.schema,
        columns=columns,
        records=[tuple(row[c] for c in columns) for row in rows],
    )


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


async def insert_standards(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await put_rows(session, _table(Standard), rows)


async def insert_versions(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await put_rows(session, _table(StandardVersion), rows)


async def update_standards(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Updates by id; rows with the same keys go in one executemany."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(tuple(row), []).append(row)
    for same in shapes.values():
        await session.execute(update(Standard), same)
