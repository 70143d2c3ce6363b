"""Bodies of /v1/titles and /v1/forerunners (领跑者称号, 领跑者名单)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TitleStatus = Literal["active", "suspended", "expired", "revoked"]
Level = Literal["national", "municipal"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TitleSummary(BaseModel):
    """One forerunner title, as the forerunner list shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    uscc: str
    enterprise_name: str
    standard_id: uuid.UUID
    standard_no: str
    standard_version: int = Field(description="the version that was ranked and titled")
    barcodes: list[str] = Field(description="GTINs of the products under the titled version")
    plan_id: uuid.UUID
    key_area_id: uuid.UUID
    year: int
    level: Level
    category: str
    region: str
    status: TitleStatus
    status_reason: str | None
    pending_review: bool = Field(description="suspended until its evaluation body reviews it")
    valid_from: date
    valid_until: date


class TitleEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: TitleStatus
    reason: str
    source: str = Field(description="publicity|registry|review|oversight|regulator|cycle")
    reference: str | None = Field(description="a decision, case or change the event came from")
    at: datetime


class TitleOut(TitleSummary):
    run_id: uuid.UUID
    plan_version: int
    evaluator_id: uuid.UUID
    granted_at: datetime
    history: list[TitleEventOut]


class Revocation(Strict):
    """撤销: oversight sends its decision (``decision_id`` required); a regulator a reason."""

    decision_id: str | None = Field(default=None, max_length=64)
    case_id: str | None = Field(default=None, max_length=64)
    reason: str = Field(min_length=1, max_length=5000)
    decided_at: datetime | None = None


class Review(Strict):
    """The body's review of a title suspended pending review: restore it, or end it."""

    action: Literal["restore", "end"]
    reason: str = Field(min_length=1, max_length=2000)


class ForerunnerPage(BaseModel):
    """The documented shape of GET /v1/forerunners (served as pre-serialised JSON)."""

    items: list[TitleSummary]
    next_cursor: str | None
