"""Bulk export of the public registry, streamed with constant memory (NDJSON or CSV).

Read in keyset pages of BATCH_ROWS in id order (the search's own SQL, services.registry.
standards.reads), each on a pooled connection borrowed for that page alone, so
that a slow (or stalled) reader holds no database connection while the bytes go out: the
public must not be able to drain the pool by opening exports and not reading them. Every row
that exists for the whole export appears exactly once; one changed meanwhile appears as it
was when its page was read. Each row is the standard's summary, its
enterprise's name and the current version's indicators.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import Field

from services.kit.auth import Principal
from services.kit.db import Database
from services.kit.reads import Reader
from services.registry.standards import reads
from services.registry.standards.reads import SearchFilters
from services.registry.standards.schemas import IndicatorValue, StandardSummary

BATCH_ROWS = 2_000
UTF8_BOM = "\ufeff".encode()

CSV_COLUMNS = (
    "id",
    "uscc",
    "enterprise_name",
    "standard_no",
    "standard_type",
    "name",
    "category",
    "region",
    "status",
    "publication_date",
    "implementation_date",
    "current_version",
    "updated_at",
    "indicators",
    "indicators_json",
)


class ExportRow(StandardSummary):
    """One line of the NDJSON export."""

    enterprise_name: str
    indicators: list[IndicatorValue] = Field(description="the current version's indicators")


async def batches(
    db: Database, f: SearchFilters, principal: Principal | None, page: Any = reads.export_page
) -> AsyncIterator[Sequence[Any]]:
    """The matching rows (in id order) in pages, each read on a connection of its own.

    The request is over by the time a streamed body runs, so each page borrows a pooled
    connection and gives it back before the page is sent. ``page`` reads one: the export's
    columns (``reads.export_page``) or its NDJSON lines (``reads.export_lines``).
    """
    last: Any = None
    while True:
        # Each page planned for its filters: a search word may be common or rare.
        rows = await page(Reader(db, custom_plans=True), f, principal, last, BATCH_ROWS)
        if rows:
            yield rows
        if len(rows) < BATCH_ROWS:
            return
        last = rows[-1]["id"]


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def record(row: Any) -> dict[str, Any]:
    """A row as the JSON object of the export (the shape of ``ExportRow``)."""
    return {
        "id": str(row["id"]),
        "uscc": row["uscc"],
        "standard_no": row["standard_no"],
        "standard_type": row["standard_type"],
        "name": row["name"],
        "category": row["category"],
        "region": row["region"],
        "status": row["status"],
        "publication_date": _iso(row["publication_date"]),
        "implementation_date": _iso(row["implementation_date"]),
        "current_version": row["current_version"],
        "updated_at": _iso(row["updated_at"]),
        "enterprise_name": row["enterprise_name"],
        "indicators": _json(row["indicators"]) or [],
    }


def _json(value: Any) -> Any:
    # The pool's connections decode JSONB (SQLAlchemy's codec); a bare one hands out text.
    return json.loads(value) if isinstance(value, str) else value


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def indicator_text(indicators: Iterable[dict[str, Any]]) -> str:
    """Indicators for people reading the CSV: ``code ≥ 88.5 %; 内胆涂层耐磨次数 ≥ 20000 次``."""
    parts = []
    for ind in indicators:
        label = ind.get("code") or ind.get("name") or ""
        if ind.get("operator") == "range":
            value = f"{_number(ind.get('value_min'))}~{_number(ind.get('value_max'))}"
        else:
            value = f"{ind.get('operator')} {_number(ind.get('value'))}"
        unit = ind.get("unit")
        parts.append(f"{label} {value} {unit}" if unit else f"{label} {value}")
    return "; ".join(parts)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula is kept as text (a leading apostrophe)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def csv_row(row: Any) -> list[Any]:
    rec = record(row)
    indicators = rec["indicators"]
    rec["indicators"] = indicator_text(indicators)
    rec["indicators_json"] = json.dumps(indicators, ensure_ascii=False, separators=(",", ":"))
    return [_cell(rec[c]) if c != "indicators_json" else rec[c] for c in CSV_COLUMNS]


def ndjson_lines(batch: Sequence[Any]) -> bytes:
    """A page of lines the database wrote (``reads.EXPORT_LINES``): Python only joins them."""
    return b"\n".join([row["line"] for row in batch]) + b"\n"


async def ndjson_body(rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[bytes]:
    async for batch in rows:
        yield ndjson_lines(batch)


async def csv_body(rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM and CRLF line ends: what Excel needs to open Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # the csv module's defaults: minimal quoting, CRLF line ends
    writer.writerow(CSV_COLUMNS)
    yield UTF8_BOM + buffer.getvalue().encode()
    async for batch in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(csv_row(r) for r in batch)
        yield buffer.getvalue().encode()


# Media type, file extension, the page reader, the body.
FORMATS: dict[str, tuple[str, str, Any, Callable[..., AsyncIterator[bytes]]]] = {
    "ndjson": ("application/x-ndjson", "ndjson", reads.export_lines, ndjson_body),
    "csv": ("text/csv; charset=utf-8", "csv", reads.export_page, csv_body),
}


async def _prepend(
    first: Sequence[Any] | None, rest: AsyncIterator[Sequence[Any]]
) -> AsyncIterator[Sequence[Any]]:
    if first is not None:
        yield first
    async for batch in rest:
        yield batch


async def export(
    db: Database,
    f: SearchFilters,
    principal: Principal | None,
    fmt: str,
    today: date,
) -> tuple[AsyncIterator[bytes], str, str]:
    """The body, its media type and a file name for the download.

    The first page is read here, before the status is sent: the query then has met every
    parameter, and what the database refuses is still an ordinary error answer.
    """
    media_type, extension, page, body = FORMATS[fmt]
    rows = batches(db, f, principal, page)
    first = await anext(rows, None)
    return (
        body(_prepend(first, rows)),
        media_type,
        f"standards-{today.strftime('%Y%m%d')}.{extension}",
    )
