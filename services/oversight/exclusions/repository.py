"""Queries of exclusions."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, select

from services.oversight.models import Exclusion


def in_force(on: date, uscc: str | None) -> Select[Any]:
    stmt = select(Exclusion).where(Exclusion.starts_on <= on, Exclusion.ends_on >= on)
    if uscc:
        stmt = stmt.where(Exclusion.uscc == uscc)
    return stmt
