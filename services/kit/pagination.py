"""Keyset pagination: ``limit`` (default 20, max 200) and an opaque ``cursor``."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from services.kit.problems import ValidationFailed

T = TypeVar("T")
S = TypeVar("S", bound=Select[Any])

DEFAULT_LIMIT = 20
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description="Page size (default 20, at most 200)")
]
CursorQuery = Annotated[
    str | None, Query(max_length=500, description="Opaque cursor from the previous page")
]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return {"t": value.isoformat(), "k": "dt" if isinstance(value, datetime) else "d"}
    if isinstance(value, UUID):
        return {"t": str(value), "k": "u"}
    return value


def _restore(value: Any) -> Any:
    if isinstance(value, dict):
        kind, text = value.get("k"), value.get("t")
        if not isinstance(text, str):
            raise ValueError("bad cursor value")
        if kind == "dt":
            return datetime.fromisoformat(text)
        if kind == "d":
            return date.fromisoformat(text)
        if kind == "u":
            return UUID(text)
        raise ValueError("bad cursor value")
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_plain(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_INT64 = range(-(2**63), 2**63)


def _of_type(value: Any, expected: type | None) -> bool:
    if expected is None:
        return True
    if expected is int:
        return type(value) is int and value in _INT64
    if expected is str:
        return isinstance(value, str) and "\x00" not in value and len(value) <= 500
    return isinstance(value, expected)


def decode_cursor(
    cursor: str, width: int, types: Sequence[type | None] | None = None, *, field: str = "cursor"
) -> list[Any]:
    """The key values in a cursor; anything this API did not hand out is a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != width:
            raise ValueError("wrong width")
        restored = [_restore(v) for v in values]
        if types is not None and not all(map(_of_type, restored, types)):
            raise ValueError("wrong types")
        return restored
    except (ValueError, TypeError):
        raise ValidationFailed.for_field(field, "not a cursor this list gave out") from None


def _python_type(key: Any) -> type | None:
    try:
        return key.type.python_type  # type: ignore[no-any-return]
    except (AttributeError, NotImplementedError):
        return None


def keyset(
    stmt: S,
    keys: Sequence[ColumnElement[Any] | QueryableAttribute[Any]],
    cursor: str | None,
    limit: int,
    *,
    descending: bool = False,
) -> S:
    """Order by ``keys`` (unique together), start after the cursor, fetch one extra row."""
    if cursor:
        after = decode_cursor(cursor, len(keys), [_python_type(k) for k in keys])
        row = tuple_(*keys)
        stmt = stmt.where(row < tuple_(*after) if descending else row > tuple_(*after))
    order = [k.desc() for k in keys] if descending else list(keys)
    return stmt.order_by(*order).limit(limit + 1)


def next_cursor(rows: Sequence[Any], limit: int, key_of: Any) -> tuple[list[Any], str | None]:
    """Trim the extra row; the cursor is the last returned row's key, or None at the end."""
    items = list(rows[:limit])
    if len(rows) > limit and items:
        return items, encode_cursor(key_of(items[-1]))
    return items, None


def _key_getter(keys: Sequence[ColumnElement[Any] | QueryableAttribute[Any]]) -> Any:
    names = [getattr(k, "key", None) or getattr(k, "name", None) for k in keys]

    def key_of(row: Any) -> list[Any]:
        mapping = getattr(row, "_mapping", None)
        if mapping is not None:
            return [mapping[name] for name in names]
        return [getattr(row, name) for name in names]  # type: ignore[arg-type]

    return key_of


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    keys: Sequence[ColumnElement[Any] | QueryableAttribute[Any]],
    cursor: str | None,
    limit: int,
    *,
    item: Callable[[Any], T] | None = None,
    descending: bool = False,
    scalars: bool | None = None,
) -> Page[T]:
    """One page of ``stmt`` in ``keys`` order (unique together), after ``cursor``.

    Rows are ORM objects when the statement selects one entity (``scalars``), else row
    tuples; the cursor is made from the ``keys`` of the last row, by name.
    """
    result = await session.execute(keyset(stmt, keys, cursor, limit, descending=descending))
    if scalars is None:
        described = stmt.column_descriptions
        scalars = len(described) == 1 and described[0]["expr"] is described[0]["entity"]
    one_entity = scalars
    rows: Sequence[Any] = result.scalars().all() if one_entity else result.all()
    items, nxt = next_cursor(rows, limit, _key_getter(keys))
    return Page[Any](items=[item(row) for row in items] if item else items, next_cursor=nxt)
