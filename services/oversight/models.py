"""Tables of the oversight service, all in its own PostgreSQL schema ``oversight``."""

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
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.db import make_metadata

metadata, kit_tables = make_metadata("oversight")


class Base(DeclarativeBase):
    metadata = metadata


class Notice(Base):
    """A public notice (公示/公告): append-only, one link of the hash chain.

    A database trigger refuses UPDATE and DELETE; the chain makes a change that bypasses it
    visible to anyone who verifies.
    """

    __tablename__ = "notices"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[uuid.UUID] = mapped_column(UUID, unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(100))
    corrects: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("oversight.notices.id"))
    window_opens: Mapped[date | None] = mapped_column(Date)
    window_closes: Mapped[date | None] = mapped_column(Date)
    window_workdays: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    posted_by: Mapped[str] = mapped_column(String(200))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index(None, "kind", "seq"),)


class ChainHead(Base):
    """The one row that serialises appends: locked FOR UPDATE by each, so the chain is a line."""

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class PublicityWindow(Base):
    """The state of a publicity notice's window (公示期): whether its outcome went to ranking."""

    __tablename__ = "publicity_windows"

    notice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oversight.notices.id"), primary_key=True
    )
    closes_on: Mapped[date] = mapped_column(Date)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index(None, "closes_on", postgresql_where="reported_at IS NULL"),)


class Complaint(Base):
    """A complaint, report or objection (投诉/举报/异议) as filed."""

    __tablename__ = "complaints"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    tracking_no: Mapped[str] = mapped_column(String(32), unique=True)
    # SHA-256 of a random code of 100 bits: the code itself is never stored.
    access_code_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(100))
    target_verified: Mapped[bool] = mapped_column(Boolean)
    respondent_uscc: Mapped[str | None] = mapped_column(String(18))
    title_id: Mapped[str | None] = mapped_column(String(100))
    notice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("oversight.notices.id"))
    grounds: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean)
    filer_sub: Mapped[str | None] = mapped_column(String(200))
    # Personal data: only regulators see it.
    contact: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index(None, "filer_sub", "filed_at"),)


class Evidence(Base):
    """An evidence file of a complaint, with the SHA-256 of its content."""

    __tablename__ = "evidence"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    complaint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oversight.complaints.id"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Inspection(Base):
    """An inspection finding (抽检): a measured value against a disclosed version."""

    __tablename__ = "inspections"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    lab: Mapped[str] = mapped_column(String(200))
    report_no: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    standard_id: Mapped[uuid.UUID] = mapped_column(UUID, index=True)
    version: Mapped[int] = mapped_column(Integer)
    uscc: Mapped[str] = mapped_column(String(18))
    product: Mapped[str] = mapped_column(String(200))
    indicator: Mapped[str] = mapped_column(String(100))
    measured: Mapped[float] = mapped_column(Double)
    unit: Mapped[str | None] = mapped_column(String(32))
    tested_on: Mapped[date] = mapped_column(Date)
    declared: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    direction: Mapped[str | None] = mapped_column(String(8))
    result: Mapped[str] = mapped_column(String(16))
    gap: Mapped[float | None] = mapped_column(Double)
    title_check: Mapped[str] = mapped_column(String(16))
    title_id: Mapped[str | None] = mapped_column(String(100))
    submitted_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("lab", "report_no"),)


class Case(Base):
    """A case (案件): the workflow of one complaint or inspection finding."""

    __tablename__ = "cases"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    origin: Mapped[str] = mapped_column(String(16))
    complaint_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("oversight.complaints.id"), unique=True
    )
    # Unique: an inspection opens at most one case however often it is sent.
    inspection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("oversight.inspections.id"), unique=True
    )
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(100))
    title_id: Mapped[str | None] = mapped_column(String(100))
    respondent_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    notice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("oversight.notices.id"), index=True
    )
    grounds: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    assignee_type: Mapped[str | None] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(200))
    received_on: Mapped[date] = mapped_column(Date)
    accepted_on: Mapped[date | None] = mapped_column(Date)
    # The deadline of the step the case waits for (accept/reject, then decide); None after.
    due_on: Mapped[date | None] = mapped_column(Date)
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    row_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index(None, "due_on", postgresql_where="due_on IS NOT NULL"),)


class CaseEvent(Base):
    """One step of a case's history: a transition, an assignment, a missed deadline."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("oversight.cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    actor_sub: Mapped[str | None] = mapped_column(String(200))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)


class CaseResponse(Base):
    """The respondent enterprise's answer (答复) to a case about itself."""

    __tablename__ = "case_responses"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("oversight.cases.id"), index=True)
    uscc: Mapped[str] = mapped_column(String(18))
    author_sub: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Decision(Base):
    """A case's decision (处理决定) and what it set in motion."""

    __tablename__ = "decisions"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("oversight.cases.id"), unique=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str] = mapped_column(String(200))
    revoked_title_id: Mapped[str | None] = mapped_column(String(100))
    notice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("oversight.notices.id"))


class Exclusion(Base):
    """An enterprise that may not be evaluated until ``ends_on`` (fraud, 弄虚作假)."""

    __tablename__ = "exclusions"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    decision_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oversight.decisions.id"), unique=True
    )
    reason: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RateCounter(Base):
    """Anonymous filings per client and fixed window, shared by every replica."""

    __tablename__ = "rate_counters"

    bucket: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
