"""Tables of the registry service, all in its own PostgreSQL schema ``registry``."""

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
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.db import make_metadata

metadata, kit_tables = make_metadata("registry")


class Base(DeclarativeBase):
    metadata = metadata


class Enterprise(Base):
    """An enterprise (企业), keyed by its unified social credit code."""

    __tablename__ = "enterprises"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(6))
    industry_code: Mapped[str | None] = mapped_column(String(5))
    address: Mapped[str | None] = mapped_column(String(300))
    # Personal data: only the enterprise itself and regulators see it.
    contact: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    verification: Mapped[str] = mapped_column(String(12), server_default="unverified")
    verified_by: Mapped[str | None] = mapped_column(String(200))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A regulator's audited note for a real code that fails the check digit.
    uscc_exception: Mapped[str | None] = mapped_column(Text)
    blocked: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    row_version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index(None, "region"),)


class Category(Base):
    """A product or service category (产品/服务类别) of the catalogue."""

    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent: Mapped[str | None] = mapped_column(ForeignKey("registry.categories.code"))
    gbt4754: Mapped[str | None] = mapped_column(String(5))
    position: Mapped[int] = mapped_column(Integer, server_default="0")


class CategoryIndicator(Base):
    """One word of a category's indicator vocabulary (技术指标)."""

    __tablename__ = "category_indicators"

    category_code: Mapped[str] = mapped_column(
        ForeignKey("registry.categories.code"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(30))
    direction: Mapped[str] = mapped_column(String(6))
    national_requirement: Mapped[float | None] = mapped_column(Double)
    requirement_source: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, server_default="0")


class Standard(Base):
    """A declared standard (自我声明公开的标准); its content lives in immutable versions.

    The columns besides the key are the current version's searchable fields, kept here so
    that search and bulk reads never have to open the versions.
    """

    __tablename__ = "standards"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    uscc: Mapped[str] = mapped_column(ForeignKey("registry.enterprises.uscc"))
    source_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    # Normalising may add a space or two to the (at most 100 characters) number as written.
    standard_no: Mapped[str] = mapped_column(String(128))
    standard_no_key: Mapped[str] = mapped_column(String(128))
    standard_type: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(300))
    category_code: Mapped[str] = mapped_column(ForeignKey("registry.categories.code"))
    region: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(12), server_default="current")
    publication_date: Mapped[date | None] = mapped_column(Date)
    implementation_date: Mapped[date | None] = mapped_column(Date)
    current_version: Mapped[int] = mapped_column(Integer, server_default="1")
    row_version: Mapped[int] = mapped_column(Integer, server_default="1")
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # True while a regulator has blocked the enterprise: public reads leave these out.
    hidden: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # Normalised text of the searchable fields, for the substring check after the gram match.
    search_text: Mapped[str] = mapped_column(Text)
    # Unigrams and bigrams of search_text (see rules.search_grams): Chinese substring search
    # that works under any server locale, for one-, two- and longer queries.
    grams: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("uscc", "standard_no_key"),
        Index(None, "grams", postgresql_using="gin"),
        Index(None, "category_code", "status", "id"),
        Index(None, "region", "id"),
        Index(None, "publication_date", "id"),
        # A query that is a whole standard number is a prefix of this key (LIKE 'key%'),
        # served by this index under any collation.
        Index(
            "ix_standards_standard_no_key_pattern",
            "standard_no_key",
            postgresql_ops={"standard_no_key": "text_pattern_ops"},
        ),
    )


class StandardVersion(Base):
    """One immutable version of a standard's declared content (a trigger refuses changes)."""

    __tablename__ = "standard_versions"

    standard_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registry.standards.id"), primary_key=True
    )
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    content_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    author_sub: Mapped[str] = mapped_column(String(200))
    author_role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Change(Base):
    """The change feed: one row per create, version, withdrawal, verification or block.

    ``txid`` is the writing transaction's id. Readers only see rows of transactions older than
    every transaction still running (``pg_snapshot_xmin``), ordered by (txid, id), so a row can
    never appear behind a cursor already handed out.
    """

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    txid: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id())::text::bigint")
    )
    kind: Mapped[str] = mapped_column(String(64))
    uscc: Mapped[str] = mapped_column(String(18))
    standard_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    version: Mapped[int | None] = mapped_column(Integer)
    category_code: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index(None, "txid", "id"),)
