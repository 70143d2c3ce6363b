"""Shapes of cases (案件), their transitions and the respondent's answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Action = Literal["accept", "reject", "investigate", "decide", "close", "assign"]
State = Literal["received", "accepted", "rejected", "investigating", "decided", "closed"]


class TransitionIn(BaseModel):
    """One step of a case: accept (受理), reject (不予受理), investigate (调查), decide (决定),
    close (结案), or assign it to a regulator or the plan's evaluation body."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    reason: str | None = Field(default=None, min_length=1, max_length=5000)
    outcome: Literal["upheld", "dismissed"] | None = None
    assignee_type: Literal["regulator", "evaluator"] | None = None
    assignee: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _fields_of_action(self) -> TransitionIn:
        if self.action in ("reject", "decide") and not self.reason:
            raise ValueError(f"{self.action} needs its reason")
        if (self.action == "decide") != (self.outcome is not None):
            raise ValueError("a decision needs its outcome (upheld or dismissed), and only it")
        if (self.action == "assign") != (self.assignee_type is not None and bool(self.assignee)):
            raise ValueError("assign needs assignee_type and assignee, and only assign takes them")
        return self


class ResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)


class ResponseOut(BaseModel):
    id: uuid.UUID
    uscc: str
    text: str
    at: datetime


class CaseEventOut(BaseModel):
    at: datetime
    action: str
    from_state: str | None
    to_state: str | None
    actor_role: str | None
    reason: str | None


class CaseOut(BaseModel):
    id: uuid.UUID
    origin: Literal["complaint", "inspection"]
    target_type: str
    target_id: str
    title_id: str | None
    respondent_uscc: str | None
    notice_id: uuid.UUID | None
    grounds: str
    state: State
    outcome: str | None
    rejection_reason: str | None
    decision_reason: str | None
    assignee_type: str | None
    assignee: str | None
    received_on: date
    accepted_on: date | None
    due_on: date | None = Field(description="Deadline of the step the case waits for")
    overdue: bool = Field(description="The deadline has passed (working days, Asia/Shanghai)")
    description: str | None = Field(description="What was complained of, or the finding")
    created_at: datetime
    updated_at: datetime
    row_version: int = Field(description="What the ETag carries; send it back in If-Match")


class CaseDetail(CaseOut):
    history: list[CaseEventOut]
    responses: list[ResponseOut]
