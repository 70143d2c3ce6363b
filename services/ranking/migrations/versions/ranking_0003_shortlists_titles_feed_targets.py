"""ranking part 2: shortlists, titles and their history, the feed cursor, targets

Revision ID: ranking_0003
Revises: ranking_0002
Create Date: 2026-12-02 11:47:28.409672
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ranking_0003"
down_revision: str | None = "ranking_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_cursors",
        sa.Column("feed", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.String(length=200), nullable=True),
        sa.Column("changes_seen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_feed_cursors")),
        schema="ranking",
    )
    op.create_table(
        "targets",
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("by", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("level", "by", name=op.f("pk_targets")),
        schema="ranking",
    )
    op.create_table(
        "shortlists",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("evaluator_id", sa.UUID(), nullable=False),
        sa.Column("key_area_id", sa.UUID(), nullable=False),
        sa.Column("state", sa.String(length=12), server_default="answering", nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("notice_id", sa.String(length=64), nullable=True),
        sa.Column("publicity_outcome", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["ranking.plans.id"], name=op.f("fk_shortlists_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ranking.runs.id"], name=op.f("fk_shortlists_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shortlists")),
        sa.UniqueConstraint("notice_id", name=op.f("uq_shortlists_notice_id")),
        sa.UniqueConstraint("run_id", name=op.f("uq_shortlists_run_id")),
        schema="ranking",
    )
    op.create_index(
        "ix_shortlists_answering",
        "shortlists",
        ["deadline"],
        unique=False,
        schema="ranking",
        postgresql_where=sa.text("state = 'answering'"),
    )
    op.create_table(
        "shortlist_entries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("shortlist_id", sa.UUID(), nullable=False),
        sa.Column("standard_id", sa.UUID(), nullable=False),
        sa.Column("standard_version", sa.Integer(), nullable=False),
        sa.Column("standard_no", sa.String(length=128), nullable=False),
        sa.Column("standard_no_key", sa.String(length=128), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("enterprise_name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=12), nullable=False),
        sa.Column(
            "barcodes", postgresql.ARRAY(sa.String(length=32)), server_default="{}", nullable=False
        ),
        sa.Column("thresholds", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("commitment", sa.Text(), nullable=True),
        sa.Column("opt_out_reason", sa.Text(), nullable=True),
        sa.Column("outcome_reason", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("row_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["shortlist_id"],
            ["ranking.shortlists.id"],
            name=op.f("fk_shortlist_entries_shortlist_id_shortlists"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shortlist_entries")),
        sa.UniqueConstraint(
            "shortlist_id",
            "standard_id",
            name=op.f("uq_shortlist_entries_shortlist_id_standard_id"),
        ),
        schema="ranking",
    )
    op.create_index(
        "ix_shortlist_entries_pending",
        "shortlist_entries",
        ["deadline"],
        unique=False,
        schema="ranking",
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        op.f("ix_shortlist_entries_uscc_created_at_id"),
        "shortlist_entries",
        ["uscc", "created_at", "id"],
        unique=False,
        schema="ranking",
    )
    op.create_table(
        "titles",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("entry_id", sa.UUID(), nullable=False),
        sa.Column("shortlist_id", sa.UUID(), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("evaluator_id", sa.UUID(), nullable=False),
        sa.Column("key_area_id", sa.UUID(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=12), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("enterprise_name", sa.String(length=200), nullable=False),
        sa.Column("standard_id", sa.UUID(), nullable=False),
        sa.Column("standard_no", sa.String(length=128), nullable=False),
        sa.Column("standard_no_key", sa.String(length=128), nullable=False),
        sa.Column("standard_version", sa.Integer(), nullable=False),
        sa.Column(
            "barcodes", postgresql.ARRAY(sa.String(length=32)), server_default="{}", nullable=False
        ),
        sa.Column("thresholds", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="active", nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("pending_review", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ranking.shortlist_entries.id"],
            name=op.f("fk_titles_entry_id_shortlist_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_titles")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_titles_entry_id")),
        schema="ranking",
    )
    op.create_index(
        op.f("ix_titles_barcodes"),
        "titles",
        ["barcodes"],
        unique=False,
        schema="ranking",
        postgresql_using="gin",
    )
    op.create_index(
        "ix_titles_live",
        "titles",
        ["valid_until"],
        unique=False,
        schema="ranking",
        postgresql_where=sa.text("status IN ('active', 'suspended')"),
    )
    op.create_index(
        op.f("ix_titles_standard_id"), "titles", ["standard_id"], unique=False, schema="ranking"
    )
    op.create_index(
        op.f("ix_titles_standard_no_key"),
        "titles",
        ["standard_no_key"],
        unique=False,
        schema="ranking",
    )
    op.create_index(op.f("ix_titles_uscc"), "titles", ["uscc"], unique=False, schema="ranking")
    op.create_table(
        "title_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("title_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["title_id"], ["ranking.titles.id"], name=op.f("fk_title_events_title_id_titles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_title_events")),
        schema="ranking",
    )
    op.create_index(
        op.f("ix_title_events_title_id_id"),
        "title_events",
        ["title_id", "id"],
        unique=False,
        schema="ranking",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_title_events_title_id_id"), table_name="title_events", schema="ranking")
    op.drop_table("title_events", schema="ranking")
    op.drop_index(op.f("ix_titles_uscc"), table_name="titles", schema="ranking")
    op.drop_index(op.f("ix_titles_standard_no_key"), table_name="titles", schema="ranking")
    op.drop_index(op.f("ix_titles_standard_id"), table_name="titles", schema="ranking")
    op.drop_index(
        "ix_titles_live",
        table_name="titles",
        schema="ranking",
        postgresql_where=sa.text("status IN ('active', 'suspended')"),
    )
    op.drop_index(
        op.f("ix_titles_barcodes"), table_name="titles", schema="ranking", postgresql_using="gin"
    )
    op.drop_table("titles", schema="ranking")
    op.drop_index(
        op.f("ix_shortlist_entries_uscc_created_at_id"),
        table_name="shortlist_entries",
        schema="ranking",
    )
    op.drop_index(
        "ix_shortlist_entries_pending",
        table_name="shortlist_entries",
        schema="ranking",
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.drop_table("shortlist_entries", schema="ranking")
    op.drop_index(
        "ix_shortlists_answering",
        table_name="shortlists",
        schema="ranking",
        postgresql_where=sa.text("state = 'answering'"),
    )
    op.drop_table("shortlists", schema="ranking")
    op.drop_table("targets", schema="ranking")
    op.drop_table("feed_cursors", schema="ranking")
