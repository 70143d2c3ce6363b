"""The kit's own tables (idempotency keys, outbox, audit log), as versioned migration steps.

Every service's first migration calls ``kit_0001(schema)``. A step is frozen once shipped: a
later change to the kit's tables is a new step (``kit_0002``) that each service's next
migration calls, so no migration depends on today's models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def kit_0001(schema: str) -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("sub", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("org", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("entity", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        schema=schema,
    )
    op.create_index(
        op.f("ix_audit_log_entity_entity_id"),
        "audit_log",
        ["entity", "entity_id"],
        unique=False,
        schema=schema,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
        schema=schema,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=50), nullable=False),
        sa.Column("method", sa.String(length=10), server_default="POST", nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
        schema=schema,
    )
    op.create_index(
        op.f("ix_outbox_next_attempt_at"),
        "outbox",
        ["next_attempt_at"],
        unique=False,
        schema=schema,
        postgresql_where=sa.text("status = 'pending'"),
    )


def kit_0001_down(schema: str) -> None:
    op.drop_index(
        op.f("ix_outbox_next_attempt_at"),
        table_name="outbox",
        schema=schema,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("outbox", schema=schema)
    op.drop_table("idempotency_keys", schema=schema)
    op.drop_index(op.f("ix_audit_log_entity_entity_id"), table_name="audit_log", schema=schema)
    op.drop_table("audit_log", schema=schema)


def kit_0002_notify_changes(schema: str, channel: str, tables: list[str]) -> list[str]:
    """DDL (a frozen step, like kit_0001): every statement that changes a row of one of
    ``tables`` notifies ``channel`` at commit (the read caches of ``kit.fresh`` listen).
    Statement triggers, so a bulk COPY sends one notification and not one per row;
    a statement that changed no row (a claim that found nothing) sends none."""
    fn = f"{schema}.notify_changed"
    stmts = [
        f"""CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Only a trigger with a transition table may look at changed_rows (plpgsql plans the
  -- ELSIF when it first gets there).
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('{channel}', TG_TABLE_NAME);
  ELSIF EXISTS (SELECT FROM changed_rows) THEN
    PERFORM pg_notify('{channel}', TG_TABLE_NAME);
  END IF;
  RETURN NULL;
END $$"""
    ]
    for table in tables:
        for event, rows in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            stmts.append(
                f"CREATE TRIGGER {table}_{event.lower()}_notifies AFTER {event} "
                f"ON {schema}.{table} "
                f"REFERENCING {rows} TABLE AS changed_rows FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {fn}()"
            )
        stmts.append(
            f"CREATE TRIGGER {table}_truncate_notifies AFTER TRUNCATE ON {schema}.{table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}()"
        )
    return stmts


def kit_0002_notify_changes_down(schema: str, tables: list[str]) -> list[str]:
    stmts = [
        f"DROP TRIGGER IF EXISTS {table}_{event}_notifies ON {schema}.{table}"
        for table in tables
        for event in ("insert", "update", "delete", "truncate")
    ]
    return [*stmts, f"DROP FUNCTION IF EXISTS {schema}.notify_changed()"]
