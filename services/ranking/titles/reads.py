"""The forerunner list and "is this a current forerunner" (领跑者查询), as plain SQL.

Procurement and credit systems ask this on every purchase or check, so it takes the read path
of ``services.kit.reads``: one statement on the read connection, each row serialised to JSON by
PostgreSQL, the page joined as bytes. A standard number in any spelling is matched by the key
the registry keys it by (``services.registry.rules``, pure functions, nothing else imported).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

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


def conditions(f: Filters) -> Where:
    where = Where()
    if f.uscc:
        where.add("t.uscc = {}", f.uscc.strip().upper())
    if f.standard_no:
        key = number_key(f.standard_no)
        if key is None:
            raise ValidationFailed.for_field("standard_no", "not a standard number")
        where.add("t.standard_no_key = {}", key)
    if f.barcode:
        where.add("t.barcodes @> ARRAY[{}]::varchar[]", f.barcode.strip())
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
    where = conditions(f)
    if cursor:
        (after,) = decode_cursor(cursor, 1, (str,))
        try:
            where.add("t.id > {}", uuid.UUID(after))
        except ValueError:
            raise ValidationFailed.for_field("cursor", "not a cursor this list gave out") from None
    exact = f.uscc or f.standard_no or f.barcode
    sql = (LOOKUP if exact else LIST).format(where=where.sql(), limit=limit + 1)
    rows = await conn.fetch(sql, *where.params)
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor([str(rows[-1][1])]) if more else None
    items = ",".join(r[0] for r in rows)
    return b'{"items":[' + items.encode() + b'],"next_cursor":' + to_json(nxt) + b"}"
