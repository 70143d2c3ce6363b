"""Bodies of /v1/runs (评估), ranking lists (排行榜), explanations, verification and 对标."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunState = Literal["queued", "running", "succeeded", "failed"]


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    plan_id: uuid.UUID
    plan_version: int
    state: RunState
    reason: str | None = Field(description="why the run failed")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    engine_version: str | None
    input_digest: str | None = Field(description="SHA-256 of the engine's canonical inputs")
    result_digest: str | None = Field(description="SHA-256 of the engine's canonical output")
    rows_digest: str | None = Field(description="SHA-256 of the stored ranking rows")
    n_candidates: int | None
    n_eligible: int | None
    n_selected: int | None
    selection: dict[str, Any] | None = Field(description="per category: how the rule played out")


class RankingEntry(BaseModel):
    """One row of a ranking list: composite/overall order, or one indicator's tier list."""

    model_config = ConfigDict(from_attributes=True)

    category: str
    position: int = Field(description="display order: rank, a tie by standard number")
    standard_id: uuid.UUID
    standard_no: str
    standard_version: int = Field(description="the version the run used")
    uscc: str
    enterprise_name: str
    eligible: bool
    score: float | None
    rank: int | None
    tied: bool = Field(description="shares its rank with another standard")
    selected: bool
    tiers: dict[str, int | None]
    tier: int | None = Field(default=None, description="the tier on the indicator asked for")
    reasons: list[dict[str, Any]]


class ExplanationIndicator(BaseModel):
    code: str
    direction: str
    value: float | None
    baseline: float
    reference: float | None
    reason: str | None
    discriminating: bool
    tier: int | None
    tier_count: int
    normalised: float | None
    weight: float
    contribution: float | None
    top_tier_threshold: float | None
    value_needed: float | None = Field(description="value that alone reaches the selection cut")


class ExplanationOut(BaseModel):
    run_id: uuid.UUID
    standard_id: uuid.UUID
    standard_no: str
    category: str
    method: str
    eligible: bool
    reasons: list[dict[str, Any]]
    score: float | None
    rank: int | None
    selected: bool
    cut_score: float | None
    cut_rank: int | None
    score_gap: float | None
    indicators: list[ExplanationIndicator]


class DigestCheck(BaseModel):
    stored: str | None
    recomputed: str
    matches: bool


class VerificationOut(BaseModel):
    run_id: uuid.UUID
    verified: bool = Field(description="every figure below matches")
    engine_version: DigestCheck
    snapshot_sha256: DigestCheck
    input_digest: DigestCheck
    result_digest: DigestCheck
    rows_digest: DigestCheck = Field(description="stored at run time vs recomputed by the engine")
    rows_in_database: DigestCheck = Field(description="the rows as they are now vs recomputed")
    mismatched_standards: list[str] = Field(description="a few rows that differ, if any")


class BenchmarkIndicator(BaseModel):
    code: str
    direction: str
    value: float | None
    baseline: float
    percentile: float | None = Field(description="share of ranked values it equals or beats")
    tier: int | None
    tier_count: int
    top_tier_threshold: float | None
    forerunner_cut: float | None = Field(description="value that alone would reach the cut")
    gap: float | None = Field(description="forerunner_cut minus value, in the better direction")


class BenchmarkOut(BaseModel):
    """对标: one current standard against the plan's latest succeeded run."""

    standard_id: uuid.UUID
    standard_no: str
    standard_version: int
    category: str
    plan_id: uuid.UUID
    run_id: uuid.UUID
    in_run: bool = Field(description="the run ranked this standard (maybe an older version)")
    eligible: bool
    reasons: list[dict[str, Any]]
    to_become_eligible: list[str]
    score: float | None
    rank: int | None
    selected: bool
    cut_score: float | None
    score_gap: float | None
    indicators: list[BenchmarkIndicator]
