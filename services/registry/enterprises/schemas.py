"""Enterprise (企业) request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Contact(Strict):
    """Contact details: personal data, shown only to the enterprise itself and regulators."""

    person: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, pattern=r"^[0-9+\-() ]{5,30}$")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200)


class EnterpriseCreate(Strict):
    uscc: str = Field(description="统一社会信用代码, 18 characters (GB 32100-2015)")
    name: str = Field(min_length=1, max_length=200, description="企业名称")
    region: str = Field(description="GB/T 2260 division code, six digits (Tianjin 12xxxx)")
    industry_code: str | None = Field(
        default=None, pattern=r"^[A-T]?\d{2,4}$", description="GB/T 4754 industry class"
    )
    address: str | None = Field(default=None, max_length=300)
    contact: Contact | None = None
    uscc_exception: str | None = Field(
        default=None,
        min_length=5,
        max_length=1000,
        description="Regulators only: the audited reason to accept a real code that fails the "
        "check digit",
    )


class EnterprisePatch(Strict):
    """Changes to an enterprise. Verification and blocking are for regulators only."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    region: str | None = None
    industry_code: str | None = Field(default=None, pattern=r"^[A-T]?\d{2,4}$")
    address: str | None = Field(default=None, max_length=300)
    contact: Contact | None = None
    verification: Literal["unverified", "verified"] | None = None
    blocked: bool | None = None
    blocked_reason: str | None = Field(default=None, min_length=2, max_length=1000)


class EnterprisePublic(BaseModel):
    uscc: str
    name: str
    region: str
    industry_code: str | None
    address: str | None
    verification: Literal["unverified", "verified"]
    created_at: datetime
    updated_at: datetime


class EnterpriseFull(EnterprisePublic):
    """What the enterprise itself and regulators see."""

    contact: Contact | None
    blocked: bool
    blocked_reason: str | None
    uscc_exception: str | None
