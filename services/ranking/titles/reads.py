"""The forerunner list and "is this a current forerunner" (领跑者查询), as plain SQL.

Procurement and credit systems ask this on every purchase or check, so it takes the read path
of ``services.kit.reads``: one statement on the read connection, each row serialised to JSON by
PostgreSQL, the page joined as bytes. A standard number in any spelling is matched by the key
the registry keys it by (``services.registry.rules``, pure functions, nothing else imported).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json

from services.kit.pagination import decode_cursor, encode_cursor
from services.kit.problems import ValidationFailed
from services.kit.reads import Reader, Where
from services.registry import rules

ROW = """json_build_object(
  'id', t.id, 'uscc', t.uscc, 'enterprise_name', t.enterprise_name,
  'standard_id', t.standard_id, 'standard_no', t.standard_no,
  'standard_version', t.standard_version, 'barcodes', t.barcodes, 'plan_id', t.plan_id,
  'key_area_id', t.key_area_id, 'year', t.year, 'level', t.level, 'category', t.category,
  'region', t.region, 'status', t.status, 'status_reason', t.status_reason,
  'pending_review', t.pending_review, 'valid_from', t.valid_from, 'valid_until', t.valid_until
)::text"""

LIST = f"SELECT {ROW}, t.id FROM ranking.titles t WHERE {{where}} ORDER BY t.id LIMIT {{limit}}"  # noqa: S608 - constants only
# A lookup by one enterprise, standard number or barcode matches a handful of titles. Asked for
# them in id order with a LIMIT, the planner walks the primary key and filters every title
# (it cannot tell how rare a barcode is in an array); fenced off (OFFSET 0), it takes the
# key's own index and sorts the few rows it finds.
LOOKUP = f"SELECT {ROW}, t.id FROM (SELECT * FROM ranking.titles t WHERE {{where}} OFFSET 0) t ORDER BY t.id LIMIT {{limit}}"  # noqa: S608, E501 - constants only
# Lookups of one kind, many keys at once: each key's titles as LOOKUP reads them, in id order.
LOOKUP_MANY = f"""SELECT k.key, x.row, x.id FROM unnest($1::varchar[]) AS k(key)
CROSS JOIN LATERAL (SELECT {ROW} AS row, t.id FROM (SELECT * FROM ranking.titles t
  WHERE {{where}} AND t.status = $2 OFFSET 0) t ORDER BY t.id LIMIT $3) x
ORDER BY k.key, x.id"""  # noqa: S608 - constants only


def number_key(raw: str) -> str | None:
    """The registry's matching key of a standard number, or None when it is not one."""
    try:
        return rules.standard_no_key(raw)
    except rules.RuleError:
        return None


@dataclass(frozen=True)
class Filters:
    uscc: str | None = None
    standard_no: str | None = None
    barcode: str | None = None
    year: int | None = None
    level: str | None = None
    key_area_id: uuid.UUID | None = None
    category: str | None = None
    region: str | None = None
    status: str | None = "active"


def _uscc(raw: str) -> str:
    return raw.strip().upper()


def _standard_no(raw: str) -> str:
    key = number_key(raw)
    if key is None:
        raise ValidationFailed.for_field("standard_no", "not a standard number")
    return key


def _barcode(raw: str) -> str:
    return raw.strip()


# Each key of "is this a current forerunner": its condition on a title, and how the key asked
# for is normalised (a standard number in any spelling by the registry's matching key).
KEYS: dict[str, tuple[str, Callable[[str], str]]] = {
    "uscc": ("t.uscc = {}", _uscc),
    "standard_no": ("t.standard_no_key = {}", _standard_no),
    "barcode": ("t.barcodes @> ARRAY[{}]::varchar[]", _barcode),
}


def conditions(f: Filters) -> Where:
    where = Where()
    for name, (condition, normalise) in KEYS.items():
        raw = getattr(f, name)
        if raw:
            where.add(condition, normalise(raw))
    if f.status:
        where.add("t.status = {}", f.status)
    if f.year is not None:
        where.add("t.year = {}", f.year)
    if f.level:
        where.add("t.level = {}", f.level)
    if f.key_area_id is not None:
        where.add("t.key_area_id = {}", f.key_area_id)
    if f.category:
        where.add("t.category = {}", f.category)
    if f.region:
        where.add("t.region LIKE {} || '%'", f.region.strip().replace("%", "").replace("_", ""))
    return where


async def forerunners(conn: Reader, f: Filters, cursor: str | None, limit: int) -> bytes:
    """One page of ``{"items": [...], "next_cursor": ...}`` as JSON bytes."""
    asked = one_key(f)
    if asked is not None and cursor is None:
        # "Is this a current forerunner": asked by procurement and credit systems in bursts,
        # read with the other lookups of its kind asked at the same moment (kit.batches).
        name, key = asked
        rows = await conn.batched(
            ("forerunners", name, f.status, limit),
            key,
            lambda keys: lookup_many(conn, name, keys, f.status or "", limit + 1),
            NONE_FOUND,
        )
        return page(rows, limit)
    where = conditions(f)
    if cursor:
        (after,) = decode_cursor(cursor, 1, (str,))
        try:
            where.add("t.id > {}", uuid.UUID(after))
        except ValueError:
            raise ValidationFailed.for_field("cursor", "not a cursor this list gave out") from None
    exact = f.uscc or f.standard_no or f.barcode
    sql = (LOOKUP if exact else LIST).format(where=where.sql(), limit=limit + 1)
    return page(await conn.fetch(sql, *where.params), limit)


Rows = Sequence[tuple[str, uuid.UUID]]
NONE_FOUND: Rows = ()


def one_key(f: Filters) -> tuple[str, str] | None:
    """The lookup's key (which, normalised) when it asks by one key and one status alone."""
    asked = [(name, getattr(f, name)) for name in KEYS if getattr(f, name)]
    others = (f.year, f.level, f.key_area_id, f.category, f.region)
    if len(asked) != 1 or not f.status or any(v is not None for v in others):
        return None
    name, raw = asked[0]
    return name, KEYS[name][1](raw)


async def lookup_many(
    conn: Reader, name: str, keys: Sequence[str], status: str, limit: int
) -> Mapping[str, Rows]:
    """The first ``limit`` titles in id order of each key of one kind, in one statement."""
    condition = KEYS[name][0].format("k.key")
    rows = await conn.fetch(LOOKUP_MANY.format(where=condition), list(keys), status, limit)
    found: dict[str, list[tuple[str, uuid.UUID]]] = {}
    for key, row, title_id in rows:
        found.setdefault(key, []).append((row, title_id))
    return found


def page(rows: Sequence[Sequence[Any]], limit: int) -> bytes:
    """``{"items": [...], "next_cursor": ...}`` of rows of (JSON text, id), one more than
    the page when there is a next one."""
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor([str(rows[-1][1])]) if more else None
    items = ",".join(r[0] for r in rows)
    return b'{"items":[' + items.encode() + b'],"next_cursor":' + to_json(nxt) + b"}"
