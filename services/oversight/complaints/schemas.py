"""Shapes of complaints, reports and objections (投诉/举报/异议)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TargetType = Literal["title", "standard", "enterprise", "notice", "plan"]
Grounds = Literal["non_conforming", "fraud", "invalid_standard", "other"]
MEDIA_TYPES = ("application/pdf", "image/jpeg", "image/png", "text/plain")


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: TargetType
    id: str = Field(min_length=1, max_length=100)


class Contact(BaseModel):
    """How to reach the filer. Personal data: only regulators see it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+\-() ]{3,40}$")
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class EvidenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=200, pattern=r"^[^/\\\x00]+$")
    media_type: Literal["application/pdf", "image/jpeg", "image/png", "text/plain"]
    content_base64: str = Field(min_length=1, description="The file, base64 (RFC 4648)")


class ComplaintCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["complaint", "report", "objection"] = Field(
        description="投诉 complaint, 举报 report, 异议 objection to a publicity notice"
    )
    target: Target
    grounds: Grounds
    description: str = Field(min_length=1, max_length=5000)
    contact: Contact | None = None
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=20)


class EvidenceOut(BaseModel):
    id: uuid.UUID
    filename: str
    media_type: str
    size_bytes: int
    sha256: str


class Progress(BaseModel):
    """Where the complaint's case stands."""

    case_id: uuid.UUID
    state: str
    outcome: str | None
    reason: str | None = Field(description="Why it was rejected, or the decision's reasons")
    due_on: date | None


class ComplaintOut(BaseModel):
    tracking_no: str
    kind: str
    target: Target
    target_verified: bool = Field(
        description="False when the owning service could not be asked at filing time"
    )
    grounds: Grounds
    description: str
    anonymous: bool
    filed_at: datetime
    evidence: list[EvidenceOut]
    progress: Progress | None


class ComplaintForRegulator(ComplaintOut):
    """What regulators see: the filer's contact details too."""

    contact: Contact | None
    filer_sub: str | None


class ComplaintFiled(BaseModel):
    """The answer to filing: the access code is shown this once and never again."""

    tracking_no: str
    access_code: str = Field(description="Keep it: with the tracking number it shows progress")
    complaint: ComplaintOut
