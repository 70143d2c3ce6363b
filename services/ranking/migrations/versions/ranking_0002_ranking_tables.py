"""ranking tables: key areas, bodies, experts, plans, runs

Revision ID: ranking_0002
Revises: ranking_0001
Create Date: 2026-12-02 10:52:48.604247
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ranking_0002"
down_revision: str | None = "ranking_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evaluators",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("contact", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("requested_key_areas", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("key_areas", postgresql.ARRAY(sa.UUID()), server_default="{}", nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applicant", sa.String(length=200), nullable=True),
        sa.Column("row_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluators")),
        sa.UniqueConstraint("uscc", name=op.f("uq_evaluators_uscc")),
        schema="ranking",
    )
    op.create_table(
        "key_areas",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("row_version", sa.Integer(), server_default="1", nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_areas")),
        sa.UniqueConstraint("year", "level", "name", name=op.f("uq_key_areas_year_level_name")),
        schema="ranking",
    )
    op.create_index(
        op.f("ix_key_areas_categories"),
        "key_areas",
        ["categories"],
        unique=False,
        schema="ranking",
        postgresql_using="gin",
    )
    op.create_table(
        "experts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("affiliation", sa.String(length=200), nullable=False),
        sa.Column("evaluator_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["evaluator_id"],
            ["ranking.evaluators.id"],
            name=op.f("fk_experts_evaluator_id_evaluators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experts")),
        sa.UniqueConstraint("subject", name=op.f("uq_experts_subject")),
        schema="ranking",
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("evaluator_id", sa.UUID(), nullable=False),
        sa.Column("key_area_id", sa.UUID(), nullable=False),
        sa.Column("latest_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("active_version", sa.Integer(), nullable=True),
        sa.Column("latest_state", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("public", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("retired", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("retired_reason", sa.Text(), nullable=True),
        sa.Column("row_version", sa.Integer(), server_default="1", nullable=False),
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
            ["evaluator_id"],
            ["ranking.evaluators.id"],
            name=op.f("fk_plans_evaluator_id_evaluators"),
        ),
        sa.ForeignKeyConstraint(
            ["key_area_id"], ["ranking.key_areas.id"], name=op.f("fk_plans_key_area_id_key_areas")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        schema="ranking",
    )
    op.create_index(
        op.f("ix_plans_evaluator_id"), "plans", ["evaluator_id"], unique=False, schema="ranking"
    )
    op.create_index(
        op.f("ix_plans_key_area_id"), "plans", ["key_area_id"], unique=False, schema="ranking"
    )
    op.create_table(
        "plan_versions",
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notice_id", sa.String(length=64), nullable=True),
        sa.Column("publicity_outcome", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
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
            ["plan_id"], ["ranking.plans.id"], name=op.f("fk_plan_versions_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("plan_id", "n", name=op.f("pk_plan_versions")),
        sa.UniqueConstraint("notice_id", name=op.f("uq_plan_versions_notice_id")),
        schema="ranking",
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("evaluator_id", sa.UUID(), nullable=False),
        sa.Column("state", sa.String(length=12), server_default="queued", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("engine_version", sa.String(length=40), nullable=True),
        sa.Column("input_digest", sa.String(length=64), nullable=True),
        sa.Column("result_digest", sa.String(length=64), nullable=True),
        sa.Column("rows_digest", sa.String(length=64), nullable=True),
        sa.Column("n_candidates", sa.Integer(), nullable=True),
        sa.Column("n_eligible", sa.Integer(), nullable=True),
        sa.Column("n_selected", sa.Integer(), nullable=True),
        sa.Column("selection", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["ranking.plans.id"], name=op.f("fk_runs_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        schema="ranking",
    )
    op.create_index(
        "ix_runs_due",
        "runs",
        ["created_at"],
        unique=False,
        schema="ranking",
        postgresql_where=sa.text("state IN ('queued', 'running')"),
    )
    op.create_index(
        op.f("ix_runs_plan_id_created_at"),
        "runs",
        ["plan_id", "created_at"],
        unique=False,
        schema="ranking",
    )
    op.create_table(
        "plan_reviews",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("expert_id", sa.UUID(), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("comments", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["ranking.experts.id"], name=op.f("fk_plan_reviews_expert_id_experts")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id", "n"],
            ["ranking.plan_versions.plan_id", "ranking.plan_versions.n"],
            name=op.f("fk_plan_reviews_plan_id_plan_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_reviews")),
        sa.UniqueConstraint(
            "plan_id", "n", "expert_id", name=op.f("uq_plan_reviews_plan_id_n_expert_id")
        ),
        schema="ranking",
    )
    op.create_table(
        "run_results",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("standard_id", sa.UUID(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("standard_no", sa.String(length=128), nullable=False),
        sa.Column("standard_version", sa.Integer(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("enterprise_name", sa.String(length=200), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("tied", sa.Boolean(), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("tiers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ranking.runs.id"], name=op.f("fk_run_results_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "standard_id", name=op.f("pk_run_results")),
        sa.UniqueConstraint(
            "run_id", "category", "position", name=op.f("uq_run_results_run_id_category_position")
        ),
        schema="ranking",
    )
    op.create_table(
        "run_snapshots",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ranking.runs.id"], name=op.f("fk_run_snapshots_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_snapshots")),
        schema="ranking",
    )


def downgrade() -> None:
    op.drop_table("run_snapshots", schema="ranking")
    op.drop_table("run_results", schema="ranking")
    op.drop_table("plan_reviews", schema="ranking")
    op.drop_index(op.f("ix_runs_plan_id_created_at"), table_name="runs", schema="ranking")
    op.drop_index(
        "ix_runs_due",
        table_name="runs",
        schema="ranking",
        postgresql_where=sa.text("state IN ('queued', 'running')"),
    )
    op.drop_table("runs", schema="ranking")
    op.drop_table("plan_versions", schema="ranking")
    op.drop_index(op.f("ix_plans_key_area_id"), table_name="plans", schema="ranking")
    op.drop_index(op.f("ix_plans_evaluator_id"), table_name="plans", schema="ranking")
    op.drop_table("plans", schema="ranking")
    op.drop_table("experts", schema="ranking")
    op.drop_index(
        op.f("ix_key_areas_categories"),
        table_name="key_areas",
        schema="ranking",
        postgresql_using="gin",
    )
    op.drop_table("key_areas", schema="ranking")
    op.drop_table("evaluators", schema="ranking")
