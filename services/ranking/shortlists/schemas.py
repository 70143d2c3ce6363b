"""Bodies of /v1/runs/{id}/shortlist and /v1/shortlist-entries (入围名单, 承诺书)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.kit.problems import Conflict, ProblemBody

EntryState = Literal["pending", "committed", "opted_out", "lapsed", "titled", "rejected"]
ShortlistState = Literal["answering", "publicity", "closed", "decided"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Commitment(Strict):
    """承诺书: the text the enterprise agrees to, in its own words or the plan's template."""

    text: str = Field(min_length=1, max_length=20_000)
    agreed: Literal[True] = Field(description="must be true: the enterprise agrees to the text")


class OptOut(Strict):
    """放弃: the enterprise declines the shortlist place, saying why."""

    reason: str = Field(min_length=1, max_length=2000)


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    shortlist_id: uuid.UUID
    standard_id: uuid.UUID
    standard_no: str
    standard_version: int = Field(description="the version the run ranked")
    uscc: str
    enterprise_name: str
    category: str
    state: EntryState
    deadline: date = Field(description="last working day (Asia/Shanghai) to answer")
    commitment: str | None
    opt_out_reason: str | None
    outcome_reason: str | None = Field(description="why it lapsed or was not titled")
    answered_at: datetime | None
    created_at: datetime


class ShortlistOut(BaseModel):
    id: uuid.UUID
    run_id: uuid.UUID
    plan_id: uuid.UUID
    plan_version: int
    state: ShortlistState
    deadline: date
    notice_id: str | None = Field(description="ranking's id of the publicity notice, once sent")
    created_at: datetime
    entries: list[EntryOut]


class DeadlineProblem(ProblemBody):
    deadline: str


class DeadlinePassed(Conflict):
    """409 with the deadline that passed, for the caller to show."""

    def __init__(self, deadline: date) -> None:
        super().__init__(
            f"the deadline to answer was {deadline.isoformat()} and has passed",
            code="deadline_passed",
        )
        self.deadline = deadline

    def body(self) -> ProblemBody:
        return DeadlineProblem(**super().body().model_dump(), deadline=self.deadline.isoformat())
