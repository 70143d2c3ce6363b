"""Bodies of /v1/stats and /v1/targets (进展统计, 目标)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["national", "municipal"]


class TargetIn(BaseModel):
    """E.g. more than 130 national and 60 municipal forerunners by the end of 2026."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    level: Level
    by: date = Field(description="the date by which the count should be reached")
    count: int = Field(ge=1, le=1_000_000)
    note: str | None = Field(default=None, max_length=500)


class TargetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    level: Level
    by: date
    count: int
    note: str | None
    updated_at: datetime


class GroupCount(BaseModel):
    year: int
    level: Level
    key_area_id: uuid.UUID
    key_area: str
    granted: int = Field(description="titles ever granted (not counting revoked ones)")
    active: int


class TargetProgress(BaseModel):
    level: Level
    by: date
    target: int
    achieved: int = Field(description="titles of the level granted by the date, not revoked")
    remaining: int
    note: str | None


class Stages(BaseModel):
    runs: int
    runs_succeeded: int
    shortlisted: int
    committed: int
    opted_out: int
    lapsed: int
    titled: int
    active: int
    suspended: int
    expired: int
    revoked: int


class Stats(BaseModel):
    forerunners: list[GroupCount]
    targets: list[TargetProgress]
    stages: Stages
