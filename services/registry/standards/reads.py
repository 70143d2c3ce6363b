"""The public reads of standards, as SQL on the read connection (see ``services.kit.reads``).

Reads are most of the traffic (the city portal, procurement and credit systems), so they skip
the ORM: each is one statement written here once, with positional parameters, run in
autocommit, and its rows are turned into JSON once. The filters are built in one place
(:func:`conditions`) for search, listing and export alike; who may see hidden standards is
asked of the policy module.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic_core import to_json

from services.kit.auth import Principal, Role
from services.kit.pagination import decode_cursor, encode_cursor
from services.kit.reads import Reader, Where
from services.registry import policy, rules

SUMMARY_COLUMNS = (
    "s.id, s.uscc, s.standard_no, s.standard_type, s.name, s.category_code AS category, "
    "s.region, s.status, s.publication_date, s.implementation_date, s.current_version, "
    "s.updated_at"
)
SUMMARY_FIELDS = (
    "id", "uscc", "standard_no", "standard_type", "name", "category", "region", "status",
    "publication_date", "implementation_date", "current_version", "updated_at",
)  # fmt: skip

ONE = f"""
SELECT {SUMMARY_COLUMNS}, e.name AS enterprise_name, s.withdrawn_reason, s.withdrawn_at,
       s.created_at, s.hidden, s.row_version, v.content::text AS content
FROM registry.standards s
JOIN registry.standard_versions v ON v.standard_id = s.id AND v.n = s.current_version
JOIN registry.enterprises e ON e.uscc = s.uscc
WHERE s.id = $1
"""  # noqa: S608 - constants only

EXPORT = f"""
SELECT {SUMMARY_COLUMNS}, e.name AS enterprise_name, v.content->'indicators' AS indicators
FROM registry.standards s
JOIN registry.enterprises e ON e.uscc = s.uscc
JOIN registry.standard_versions v ON v.standard_id = s.id AND v.n = s.current_version
WHERE {{where}} ORDER BY s.id LIMIT {{limit}}
"""  # noqa: S608 - constants only

# The NDJSON export's lines, built by PostgreSQL: the shape of exports.ExportRow, with the
# time stamp written as Python's isoformat() with "Z" (microseconds only when there are any).
# As UTF-8 bytes (bytea), which the driver hands over as they come and Python only joins:
# as text they were decoded, joined into a wide string and encoded again (40 ms a 10,000).
EXPORT_LINES = """
SELECT s.id, convert_to(json_build_object(
    'id', s.id, 'uscc', s.uscc, 'standard_no', s.standard_no,
    'standard_type', s.standard_type, 'name', s.name, 'category', s.category_code,
    'region', s.region, 'status', s.status, 'publication_date', s.publication_date,
    'implementation_date', s.implementation_date, 'current_version', s.current_version,
    'updated_at', replace(
        to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        '.000000Z', 'Z'
    ),
    'enterprise_name', e.name,
    'indicators', coalesce(nullif(v.content->'indicators', 'null'::jsonb), '[]'::jsonb)
)::text, 'UTF8') AS line
FROM registry.standards s
JOIN registry.enterprises e ON e.uscc = s.uscc
JOIN registry.standard_versions v ON v.standard_id = s.id AND v.n = s.current_version
WHERE {where} ORDER BY s.id LIMIT {limit}
"""

# How many rows, in id order, a text search first looks through before asking the GIN index.
PROBE_ROWS = 2000
# ... and how many matches (by ANALYZE's statistics) make a word common enough to try that.
PROBE_FROM = 5000
GRAM_STATS_TTL = 300.0  # seconds a process keeps the statistics of the grams

GRAM_STATS = """
SELECT s.most_common_elems::text::text[] AS grams, s.most_common_elem_freqs AS freqs,
       c.reltuples AS total
FROM pg_class c
LEFT JOIN pg_stats s
  ON s.schemaname = 'registry' AND s.tablename = 'standards' AND s.attname = 'grams'
WHERE c.oid = 'registry.standards'::regclass
"""


@dataclass(frozen=True)
class GramStats:
    """How common the commonest grams are (``pg_stats.most_common_elems``) and how many rows
    the table has: what the planner knows, read once every few minutes per process."""

    freq: dict[str, float]
    total: float
    read_at: float

    def expected(self, grams: list[str]) -> float:
        """Matches expected for a document holding all ``grams``: at most those of the rarest
        (a gram outside the statistics is rare)."""
        return min((self.freq.get(g, 0.0) for g in grams), default=0.0) * self.total


async def gram_stats(db: Reader) -> GramStats:
    cached: GramStats | None = db.memo.get("gram_stats")
    now = time.monotonic()
    if cached is not None and now - cached.read_at < GRAM_STATS_TTL:
        return cached
    row = await db.fetchrow(GRAM_STATS)
    grams, freqs = (row["grams"], row["freqs"]) if row and row["grams"] else ([], [])
    # reltuples is -1 until the table is first analysed.
    total = max(float(row["total"]), 0.0) if row else 0.0
    stats = GramStats(dict(zip(grams, freqs, strict=False)), total, now)
    db.memo["gram_stats"] = stats
    return stats


def worth_probing(stats: GramStats, grams: list[str], limit: int) -> bool:
    """Is the word common enough that the GIN path would collect and sort many matches, and
    that PROBE_ROWS rows in id order are likely to fill the page?"""
    expected = stats.expected(grams)
    share = expected / stats.total if stats.total else 0.0
    return expected >= PROBE_FROM and share * PROBE_ROWS > limit


@dataclass(frozen=True)
class SearchFilters:
    q: str | None = None
    category: str | None = None
    region: str | None = None
    status: str | None = None
    uscc: str | None = None
    published_from: date | None = None
    published_to: date | None = None


def _like_escape(text: str) -> str:
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def visibility(where: Where, principal: Principal | None) -> None:
    if policy.sees_hidden(principal):
        return
    owner = principal.org if principal is not None and principal.role is Role.enterprise else None
    if owner:
        where.add("(NOT s.hidden OR s.uscc = {})", owner)
    else:
        where.add("NOT s.hidden")


def whole_standard_no(q: str) -> str | None:
    """The matching key of ``q`` when it is a whole standard number (in any spelling)."""
    try:
        return rules.standard_no_key(q)
    except rules.RuleError:
        return None


def text_match(where: Where, q: str | None) -> bool:
    """``q`` as a condition; False when ``q`` asks nothing.

    A whole standard number is looked up by the prefix of its key (a btree range: any year,
    any part of it); everything else, fragments of numbers included, by the search grams.
    """
    key = whole_standard_no(q) if q else None
    if key:
        where.add("s.standard_no_key LIKE {} ESCAPE '/'", _like_escape(key) + "%")
        return True
    alternatives = []
    for variant in rules.query_variants(q or ""):
        grams = rules.query_grams(variant)
        fragment = rules.search_fragment(variant)
        if grams and fragment:
            # The GIN index narrows by grams; the substring check removes false positives.
            part = Where(params=where.params)
            part.add(
                "(s.grams @> {}::text[] AND s.search_text LIKE '%' || {} || '%' ESCAPE '/')",
                grams,
                _like_escape(fragment),
            )
            alternatives.append(part.clauses[0])
    if alternatives:
        where.clauses.append("(" + " OR ".join(alternatives) + ")")
    return bool(alternatives)


def conditions(f: SearchFilters, principal: Principal | None, *, text: bool = True) -> Where:
    """The filters of a search, listing or export, visibility included."""
    where = Where()
    visibility(where, principal)
    if f.category:
        where.add("s.category_code = {}", f.category)
    if f.region:
        # A prefix as a range, which a plain btree serves under any collation.
        where.add(
            "s.region >= {} AND s.region < {}", f.region, f.region[:-1] + chr(ord(f.region[-1]) + 1)
        )
    if f.status:
        where.add("s.status = {}", f.status)
    if f.uscc:
        where.add("s.uscc = {}", f.uscc.strip().upper())
    if f.published_from:
        where.add("s.publication_date >= {}", f.published_from)
    if f.published_to:
        where.add("s.publication_date <= {}", f.published_to)
    if text:
        text_match(where, f.q)
    return where


def _after(where: Where, cursor: str | None) -> None:
    if cursor:
        where.add("s.id > {}", decode_cursor(cursor, 1, [uuid.UUID])[0])


async def search(
    conn: Reader,
    f: SearchFilters,
    principal: Principal | None,
    cursor: str | None,
    limit: int,
) -> bytes:
    """One page of the search in id order, as the JSON of ``Page[StandardSummary]``.

    A common word (电饭锅 in a million disclosures) matches tens of thousands of rows, and the
    planner, taking its bigrams as independent, expects few: it collects every match through
    the GIN index and sorts them all for one page. So a search for a word that the statistics
    call common first walks the next PROBE_ROWS rows in id order and keeps those that match;
    if that fills the page, the page is exactly what the full query would return (same order,
    same start). A rarer word goes to the GIN index at once, which is what it is good at (the
    walk would cost more than the whole answer), and so does a standard number (a query with
    a number spelling as well), rare by nature.
    """
    rows: list[Any] = []
    key = whole_standard_no(f.q) if f.q else None
    if (
        f.q
        and len(rules.query_variants(f.q)) == 1
        and not key
        and worth_probing(await gram_stats(conn), rules.query_grams(f.q), limit)
    ):
        window = conditions(f, principal, text=False)
        _after(window, cursor)
        inner = window.sql()
        outer = Where(params=window.params)
        if text_match(outer, f.q):
            sql = (
                f"SELECT {SUMMARY_COLUMNS} FROM (SELECT * FROM registry.standards s "  # noqa: S608
                f"WHERE {inner} ORDER BY s.id LIMIT {PROBE_ROWS}) s "
                f"WHERE {outer.sql()} ORDER BY s.id LIMIT {limit + 1}"
            )
            rows = await conn.planning_each().fetch(sql, *window.params)
    if len(rows) <= limit:
        where = conditions(f, principal)
        _after(where, cursor)
        found = f"registry.standards s WHERE {where.sql()}"
        # A key's prefix (LIKE $n) reaches its index only in a plan made for the value, and
        # a listing's best index depends on how common its category or region is.
        reader = conn.planning_each()
        if f.q and not key:
            # Fenced (OFFSET 0): the matches come from the gram index and are sorted, whatever
            # the word. A word common enough to fill a page in id order took the probe, so
            # this one plan serves what comes here, and it can be reused.
            found = f"(SELECT * FROM {found} OFFSET 0) s"  # noqa: S608 - built from constants
            reader = conn
        sql = f"SELECT {SUMMARY_COLUMNS} FROM {found} ORDER BY s.id LIMIT {limit + 1}"  # noqa: S608
        rows = await reader.fetch(sql, *where.params)
    return page_json(rows, limit)


def page_json(rows: list[Any], limit: int) -> bytes:
    items = [dict(zip(SUMMARY_FIELDS, row, strict=False)) for row in rows[:limit]]
    nxt = encode_cursor([rows[limit - 1]["id"]]) if len(rows) > limit else None
    return to_json({"items": items, "next_cursor": nxt})


@dataclass(frozen=True)
class StandardView:
    """One standard as stored: who may see it, its version (the ETag), its JSON on demand."""

    row: Any

    @property
    def uscc(self) -> str:
        return str(self.row["uscc"])

    @property
    def hidden(self) -> bool:
        return bool(self.row["hidden"])

    @property
    def row_version(self) -> int:
        return int(self.row["row_version"])

    def body(self) -> bytes:
        """The JSON of ``StandardOut``; the stored content (the checked ``StandardContent`` as
        JSON) is spliced in rather than decoded and encoded again."""
        row = self.row
        head = {k: row[k] for k in (*SUMMARY_FIELDS, "enterprise_name", "withdrawn_reason")}
        head |= {"withdrawn_at": row["withdrawn_at"], "created_at": row["created_at"]}
        content: str = row["content"]
        return to_json(head)[:-1] + b',"content":' + content.encode() + b"}"


def view_weight(view: StandardView | None) -> int:
    """What a kept standard costs in memory: mostly its content."""
    return 100 if view is None else 600 + len(view.row["content"])


async def one(conn: Reader, standard_id: uuid.UUID) -> StandardView | None:
    row = await conn.fetchrow(ONE, standard_id)
    return StandardView(row) if row is not None else None


async def export_page(
    conn: Reader,
    f: SearchFilters,
    principal: Principal | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Any]:
    """The next ``limit`` rows of an export after ``after``: the search's filters and
    visibility, with the enterprise's name and the current version's indicators (JSON text)."""
    where = conditions(f, principal)
    if after is not None:
        where.add("s.id > {}", after)
    return list(await conn.fetch(EXPORT.format(where=where.sql(), limit=limit), *where.params))


async def export_lines(
    conn: Reader, f: SearchFilters, principal: Principal | None, after: Any, limit: int
) -> list[Any]:
    """``export_page`` as (id, NDJSON line) rows: the line is JSON built by the database, as
    UTF-8 bytes."""
    where = conditions(f, principal)
    if after is not None:
        where.add("s.id > {}", after)
    sql = EXPORT_LINES.format(where=where.sql(), limit=limit)
    return list(await conn.fetch(sql, *where.params))
