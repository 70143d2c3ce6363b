"""Tables of the ranking service, all in its own PostgreSQL schema ``ranking``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.db import make_metadata

metadata, kit_tables = make_metadata("ranking")


class Base(DeclarativeBase):
    metadata = metadata


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class KeyArea(Base):
    """A key area (重点领域): registry categories chosen for evaluation in a year."""

    __tablename__ = "key_areas"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    year: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    row_version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        UniqueConstraint("year", "level", "name"),
        Index(None, "categories", postgresql_using="gin"),
    )


class Evaluator(Base):
    """An evaluation body (评估机构): applies, and a regulator approves it for key areas."""

    __tablename__ = "evaluators"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18))
    # Personal data: only the body itself and regulators see it.
    contact: Mapped[dict[str, Any]] = mapped_column(JSONB)
    requested_key_areas: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID))
    status: Mapped[str] = mapped_column(String(12), server_default="pending")
    key_areas: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID), server_default="{}")
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applicant: Mapped[str | None] = mapped_column(String(200))
    row_version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = _now()

    __table_args__ = (UniqueConstraint("uscc"),)


class Expert(Base):
    """A reviewing expert (评审专家), known by the ``sub`` of their token."""

    __tablename__ = "experts"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    subject: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    affiliation: Mapped[str] = mapped_column(String(200))
    # The evaluation body the expert works for, if any: they may not review its plans.
    evaluator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ranking.evaluators.id"))
    created_at: Mapped[datetime] = _now()


class Plan(Base):
    """An evaluation plan (评估方案) of one body for one key area; content lives in versions."""

    __tablename__ = "plans"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    evaluator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ranking.evaluators.id"))
    key_area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ranking.key_areas.id"))
    latest_version: Mapped[int] = mapped_column(Integer, server_default="1")
    # The version runs use; None until a version has been approved and activated.
    active_version: Mapped[int | None] = mapped_column(Integer)
    # The latest version's state, kept here for lists and visibility.
    latest_state: Mapped[str] = mapped_column(String(16), server_default="draft")
    # True once a version has gone to publicity (公示): from then on the plan is public.
    public: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    retired: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    retired_reason: Mapped[str | None] = mapped_column(Text)
    row_version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (Index(None, "evaluator_id"), Index(None, "key_area_id"))


class PlanVersion(Base):
    """One version of a plan. Frozen from submission on: only its state moves after that."""

    __tablename__ = "plan_versions"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ranking.plans.id"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), server_default="draft")
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    content_hash: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The plan-publicity notice (公示) sent to oversight; its outcome comes back by this id.
    notice_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    publicity_outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class PlanReview(Base):
    """One expert's verdict on one submitted version (专家评审)."""

    __tablename__ = "plan_reviews"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(UUID)
    n: Mapped[int] = mapped_column(Integer)
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ranking.experts.id"))
    verdict: Mapped[str] = mapped_column(String(8))
    comments: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        ForeignKeyConstraint(
            ["plan_id", "n"], ["ranking.plan_versions.plan_id", "ranking.plan_versions.n"]
        ),
        UniqueConstraint("plan_id", "n", "expert_id"),
    )


class Run(Base):
    """One evaluation run (评估) of a plan version over a snapshot of disclosures."""

    __tablename__ = "runs"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ranking.plans.id"))
    plan_version: Mapped[int] = mapped_column(Integer)
    evaluator_id: Mapped[uuid.UUID] = mapped_column(UUID)
    state: Mapped[str] = mapped_column(String(12), server_default="queued")
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A running run whose lease has passed was abandoned by its replica and is claimed again.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    engine_version: Mapped[str | None] = mapped_column(String(40))
    input_digest: Mapped[str | None] = mapped_column(String(64))
    result_digest: Mapped[str | None] = mapped_column(String(64))
    rows_digest: Mapped[str | None] = mapped_column(String(64))
    n_candidates: Mapped[int | None] = mapped_column(Integer)
    n_eligible: Mapped[int | None] = mapped_column(Integer)
    n_selected: Mapped[int | None] = mapped_column(Integer)
    selection: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        Index(None, "plan_id", "created_at"),
        Index(
            "ix_runs_due",
            "created_at",
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
    )


class RunSnapshot(Base):
    """The canonical input of a run (zlib-compressed canonical JSON) and its SHA-256."""

    __tablename__ = "run_snapshots"

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ranking.runs.id"), primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))


class RunResult(Base):
    """One candidate standard's outcome in a run (排行榜 row)."""

    __tablename__ = "run_results"

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ranking.runs.id"), primary_key=True)
    standard_id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    category: Mapped[str] = mapped_column(String(64))
    # Display order inside the category: by rank, a tie by standard number, ineligible last.
    position: Mapped[int] = mapped_column(Integer)
    standard_no: Mapped[str] = mapped_column(String(128))
    standard_version: Mapped[int] = mapped_column(Integer)
    uscc: Mapped[str] = mapped_column(String(18))
    enterprise_name: Mapped[str] = mapped_column(String(200))
    eligible: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float | None] = mapped_column(Double)
    rank: Mapped[int | None] = mapped_column(Integer)
    tied: Mapped[bool] = mapped_column(Boolean)
    selected: Mapped[bool] = mapped_column(Boolean)
    tiers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reasons: Mapped[list[Any]] = mapped_column(JSONB)

    __table_args__ = (UniqueConstraint("run_id", "category", "position"),)


class Shortlist(Base):
    """The shortlist (入围名单) a body publishes from a succeeded run; one per run.

    ``answering`` until every entry is committed, opted out or lapsed; then ``publicity`` (the
    committed entries on the notice board) or ``closed`` (none committed); ``decided`` once
    oversight reported the window's outcome and the titles were granted.
    """

    __tablename__ = "shortlists"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ranking.runs.id"), unique=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ranking.plans.id"))
    plan_version: Mapped[int] = mapped_column(Integer)
    evaluator_id: Mapped[uuid.UUID] = mapped_column(UUID)
    key_area_id: Mapped[uuid.UUID] = mapped_column(UUID)
    state: Mapped[str] = mapped_column(String(12), server_default="answering")
    # Last working day (Asia/Shanghai) on which an entry may still be answered.
    deadline: Mapped[date] = mapped_column(Date)
    # Ranking's own id of the publicity notice; the outcome comes back by it.
    notice_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    publicity_outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        Index("ix_shortlists_answering", "deadline", postgresql_where=text("state = 'answering'")),
    )


class ShortlistEntry(Base):
    """One shortlisted standard (入围): its enterprise commits (承诺书) or opts out."""

    __tablename__ = "shortlist_entries"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    shortlist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ranking.shortlists.id"))
    standard_id: Mapped[uuid.UUID] = mapped_column(UUID)
    standard_version: Mapped[int] = mapped_column(Integer)
    standard_no: Mapped[str] = mapped_column(String(128))
    standard_no_key: Mapped[str] = mapped_column(String(128))
    uscc: Mapped[str] = mapped_column(String(18))
    enterprise_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(12))
    barcodes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    # Per core indicator: direction, baseline, tier and the worst value inside that tier in the
    # run, which a later version must still reach (动态调整).
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(12), server_default="pending")
    deadline: Mapped[date] = mapped_column(Date)
    commitment: Mapped[str | None] = mapped_column(Text)
    opt_out_reason: Mapped[str | None] = mapped_column(Text)
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    row_version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        UniqueConstraint("shortlist_id", "standard_id"),
        Index(None, "uscc", "created_at", "id"),
        Index(
            "ix_shortlist_entries_pending",
            "deadline",
            postgresql_where=text("state = 'pending'"),
        ),
    )


class Title(Base):
    """A forerunner title (领跑者称号) of one standard of one enterprise for a plan's cycle.

    ``active`` → ``suspended`` (the registry withdrew or superseded the standard, or a new
    version fell short, pending the body's review) → ``active`` again or ``revoked``;
    ``expired`` at the end of the cycle; ``revoked`` (撤销) for good.
    """

    __tablename__ = "titles"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    entry_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ranking.shortlist_entries.id"), unique=True
    )
    shortlist_id: Mapped[uuid.UUID] = mapped_column(UUID)
    run_id: Mapped[uuid.UUID] = mapped_column(UUID)
    plan_id: Mapped[uuid.UUID] = mapped_column(UUID)
    plan_version: Mapped[int] = mapped_column(Integer)
    evaluator_id: Mapped[uuid.UUID] = mapped_column(UUID)
    key_area_id: Mapped[uuid.UUID] = mapped_column(UUID)
    year: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(12))
    category: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(12))
    uscc: Mapped[str] = mapped_column(String(18))
    enterprise_name: Mapped[str] = mapped_column(String(200))
    standard_id: Mapped[uuid.UUID] = mapped_column(UUID)
    standard_no: Mapped[str] = mapped_column(String(128))
    standard_no_key: Mapped[str] = mapped_column(String(128))
    standard_version: Mapped[int] = mapped_column(Integer)
    barcodes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(12), server_default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    # Suspended until the body restores or ends it (a new version fell short).
    pending_review: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    # The oversight decision that revoked it: a redelivery of the same one changes nothing.
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    row_version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        Index(None, "uscc"),
        Index(None, "standard_no_key"),
        Index(None, "standard_id"),
        # Read all day, written a few thousand a cycle: no pending list (ranking_0004).
        Index(None, "barcodes", postgresql_using="gin", postgresql_with={"fastupdate": "off"}),
        Index(
            "ix_titles_live",
            "valid_until",
            postgresql_where=text("status IN ('active', 'suspended')"),
        ),
    )


class TitleEvent(Base):
    """One change of a title's status, with its reason, time and source (history)."""

    __tablename__ = "title_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    title_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ranking.titles.id"))
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(Text)
    # publicity | registry | review | oversight | regulator | cycle
    source: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index(None, "title_id", "id"),)


class FeedCursor(Base):
    """Where a consumer of another service's change feed stopped (one row per feed)."""

    __tablename__ = "feed_cursors"

    feed: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(200))
    changes_seen: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = _now()


class Target(Base):
    """A progress target the regulator sets: ``count`` forerunners of a level by a date."""

    __tablename__ = "targets"

    level: Mapped[str] = mapped_column(String(12), primary_key=True)
    by: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = _now()
