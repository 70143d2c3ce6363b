"""Shapes of inspection findings (抽检结果)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class InspectionIn(BaseModel):
    """A measured value for an indicator of a product of a standard, by a lab, against the
    version of the standard it was measured against."""

    model_config = ConfigDict(extra="forbid")

    lab: str = Field(min_length=1, max_length=200, description="Testing laboratory (检测机构)")
    report_no: str = Field(min_length=1, max_length=100, description="The lab's report number")
    standard_id: uuid.UUID
    # The registry numbers versions in a 32-bit column; a larger one names none.
    version: int = Field(
        ge=1, le=2**31 - 1, description="The disclosed version it was measured against"
    )
    product: str = Field(min_length=1, max_length=200)
    indicator: str = Field(min_length=1, max_length=100, description="Code or declared name")
    measured: float = Field(allow_inf_nan=False)
    unit: str | None = Field(default=None, max_length=32)
    tested_on: date


class InspectionOut(BaseModel):
    id: uuid.UUID
    lab: str
    report_no: str
    standard_id: uuid.UUID
    version: int
    uscc: str
    product: str
    indicator: str
    measured: float
    unit: str | None
    tested_on: date
    declared: dict[str, Any] | None = Field(description="The disclosed operator and value")
    direction: Literal["higher", "lower"] | None
    result: Literal["conforms", "shortfall"]
    gap: float | None = Field(description="How far short, in the indicator's unit")
    title_check: Literal["not_asked", "active", "none", "unreachable"]
    title_id: str | None
    case_id: uuid.UUID | None
    created_at: datetime
