"""Bodies of /v1/plans (评估方案), their reviews, decisions and publicity outcomes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

VersionState = Literal[
    "draft", "submitted", "rejected", "publicity", "approved", "active", "superseded", "retired"
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class Tiering(Strict):
    """分档: explicit cut points (best first), or k quantile tiers."""

    cuts: list[float] | None = Field(default=None, max_length=99)
    quantiles: int | None = None


class IndicatorSpec(Strict):
    """A core indicator (核心指标) of the plan."""

    code: str = Field(min_length=1, max_length=64, description="code from the category vocabulary")
    unit: str = Field(max_length=30, description="the vocabulary's unit ('' when unitless)")
    direction: Literal["higher", "lower"] | None = Field(
        default=None, description="defaults to the vocabulary's direction"
    )
    baseline: float = Field(description="基准值: the national or industry requirement")
    benchmark: float | None = Field(default=None, description="国际先进值, optional")
    weight: float = Field(default=1.0, description="0 makes it an eligibility-only indicator")
    tiering: Tiering = Field(default_factory=lambda: Tiering(quantiles=3))


class Eligibility(Strict):
    """入围资格 beyond the fixed rules (current status, every core indicator disclosed, at or
    above baseline, not excluded by oversight)."""

    implemented_by: date | None = Field(
        default=None, description="the standard must be in force (实施日期) by this date"
    )


class Selection(Strict):
    """遴选规则: tier 1 on every indicator, top N, or top X %, with an optional cap."""

    rule: Literal["top_tier_all", "top_n", "top_percent"]
    n: int | None = None
    percent: float | None = None
    cap: int | None = None
    cap_ties: Literal["keep", "drop"] = Field(
        default="keep", description="what a cap does when it falls inside a tie"
    )


class Cycle(Strict):
    valid_from: date
    valid_to: date


class PlanContent(Strict):
    """What a plan version holds; frozen once submitted."""

    name: str = Field(min_length=1, max_length=200, description="方案名称")
    categories: list[str] = Field(min_length=1, max_length=50)
    indicators: list[IndicatorSpec] = Field(max_length=50)
    method: Literal["tiered", "composite"]
    reference: Literal["benchmark", "best", "top_k_mean"] = "benchmark"
    reference_k: int = Field(default=3, ge=1, le=1000)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    selection: Selection
    cycle: Cycle
    publicity_days: int = Field(ge=1, le=60, description="公示期, working days")
    commitment_days: int = Field(
        default=10, ge=1, le=60, description="承诺期: working days a shortlisted firm has to answer"
    )


class PlanCreate(PlanContent):
    key_area_id: uuid.UUID


class VersionOut(BaseModel):
    plan_id: uuid.UUID
    n: int
    state: VersionState
    content: PlanContent
    content_hash: str
    submitted_at: datetime | None
    notice_id: str | None
    publicity_outcome: dict[str, Any] | None
    reason: str | None
    created_at: datetime


class PlanOut(BaseModel):
    id: uuid.UUID
    evaluator_id: uuid.UUID
    key_area_id: uuid.UUID
    latest_version: int
    latest_state: VersionState
    active_version: int | None
    retired: bool
    created_at: datetime
    updated_at: datetime
    version: VersionOut | None = Field(description="the latest version the caller may read")


class PlanSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    evaluator_id: uuid.UUID
    key_area_id: uuid.UUID
    latest_version: int
    latest_state: VersionState
    active_version: int | None
    retired: bool
    updated_at: datetime


class ReviewCreate(Strict):
    verdict: Literal["approve", "reject"]
    comments: str = Field(min_length=1, max_length=5000)


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_id: uuid.UUID
    n: int
    expert_id: uuid.UUID
    verdict: Literal["approve", "reject"]
    comments: str
    created_at: datetime


class Decision(Strict):
    """activate: an approved version replaces the active one; retire: the plan ends."""

    action: Literal["activate", "retire"]
    reason: str | None = Field(default=None, max_length=2000)


class UpheldObjection(Strict):
    """An objection (异议) to the notice that oversight upheld."""

    case_id: str = Field(min_length=1, max_length=64)
    uscc: str | None = Field(default=None, max_length=18)
    title_id: str | None = Field(default=None, max_length=100)
    standard_id: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=2000)


class NoticeSubject(Strict):
    type: str = Field(max_length=32)
    id: str = Field(max_length=100)


class PublicityOutcome(Strict):
    """What oversight reports when a publicity window (公示期) has closed and every objection
    to it is decided. ``source_id`` is ranking's own id of the notice it sent."""

    notice_id: str = Field(min_length=1, max_length=64, description="oversight's notice id")
    source_id: str = Field(min_length=1, max_length=64, description="ranking's id of it")
    subject: NoticeSubject | None = None
    closed_on: date
    objections: int = Field(ge=0, description="objections filed against the notice")
    upheld: list[UpheldObjection] = Field(default_factory=list, max_length=1000)


class PublicityOutcomeOut(BaseModel):
    """What the outcome applied to: a plan version, or a shortlist and the titles granted."""

    kind: Literal["plan_version", "shortlist"]
    plan_id: uuid.UUID
    n: int = Field(description="the plan version")
    state: str = Field(description="the plan version's or the shortlist's state after it")
    notice_id: str
    shortlist_id: uuid.UUID | None = None
    titles_granted: int | None = None
