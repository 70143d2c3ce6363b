"""Bulk sync (批量同步) bodies: what the national platform pushes and what it gets back."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.kit.problems import FieldError
from services.registry.standards.schemas import StandardContent


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SyncEnterprise(Strict):
    """The declaring enterprise as the platform knows it; created or updated to match."""

    uscc: str = Field(max_length=40, description="统一社会信用代码, 18 characters (GB 32100-2015)")
    name: str = Field(min_length=1, max_length=200, description="企业名称")
    region: str = Field(max_length=20, description="GB/T 2260 division code, six digits")
    industry_code: str | None = Field(
        default=None,
        pattern=r"^[A-T]?\d{2,4}$",
        description="GB/T 4754 industry class; omitted or null keeps the stored one",
    )
    address: str | None = Field(
        default=None, max_length=300, description="omitted or null keeps the stored one"
    )


class SyncItem(Strict):
    """One disclosure of the national platform, keyed by its id there."""

    source_id: str = Field(min_length=1, max_length=100, description="the platform's own id")
    enterprise: SyncEnterprise
    standard: StandardContent
    status: Literal["current", "abolished", "superseded"] = "current"
    withdrawn_reason: str | None = Field(
        default=None,
        min_length=2,
        max_length=1000,
        validate_default=True,
        description="废止原因; required to abolish",
    )

    @field_validator("withdrawn_reason")
    @classmethod
    def _reason_goes_with_status(cls, value: str | None, info: ValidationInfo) -> str | None:
        status = info.data.get("status")
        if status == "abolished" and not value:
            raise ValueError("an abolished standard needs its withdrawn_reason")
        if status == "current" and value:
            raise ValueError("only an abolished or superseded standard has a withdrawn_reason")
        return value


Outcome = Literal["created", "updated", "unchanged", "rejected"]


class SyncItemResult(BaseModel):
    index: int = Field(description="position of the item in the batch (NDJSON: non-blank line)")
    source_id: str | None
    result: Outcome
    standard_id: uuid.UUID | None = None
    version: int | None = Field(default=None, description="the standard's current version")
    errors: list[FieldError] = Field(default_factory=list)
    code: str | None = Field(default=None, description="why it was rejected (stable code)")


class SyncTotals(BaseModel):
    received: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0


class SyncReport(BaseModel):
    items: list[SyncItemResult]
    totals: SyncTotals
