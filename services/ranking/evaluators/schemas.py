"""Bodies of /v1/evaluators (评估机构) and /v1/experts (评审专家)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Contact(Strict):
    person: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)


class EvaluatorApply(Strict):
    """An organisation's application to evaluate (评估机构申请)."""

    name: str = Field(min_length=1, max_length=200, description="机构名称")
    uscc: str = Field(min_length=18, max_length=18, description="统一社会信用代码")
    contact: Contact
    key_areas: list[uuid.UUID] = Field(
        min_length=1, max_length=200, description="the key areas it asks to evaluate"
    )


class Approval(Strict):
    """A regulator's decision on a body, with the key areas it may evaluate."""

    decision: Literal["approved", "rejected"]
    reason: str | None = Field(default=None, max_length=2000)
    key_areas: list[uuid.UUID] | None = Field(
        default=None, max_length=200, description="assigned areas (default: those it asked for)"
    )


class EvaluatorOut(BaseModel):
    id: uuid.UUID
    name: str
    uscc: str
    status: Literal["pending", "approved", "rejected"]
    requested_key_areas: list[uuid.UUID]
    key_areas: list[uuid.UUID]
    decision_reason: str | None
    decided_at: datetime | None
    created_at: datetime
    contact: Contact | None = Field(description="only for the body itself and regulators")


class ExpertCreate(Strict):
    subject: str = Field(min_length=1, max_length=200, description="the `sub` of their token")
    name: str = Field(min_length=1, max_length=100)
    affiliation: str = Field(min_length=1, max_length=200, description="工作单位")
    evaluator_id: uuid.UUID | None = Field(
        default=None, description="the evaluation body they work for, if any"
    )


class ExpertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subject: str
    name: str
    affiliation: str
    evaluator_id: uuid.UUID | None
    created_at: datetime
