"""kit tables: idempotency keys, outbox, audit log

Revision ID: ranking_0001
Revises:
Create Date: 2026-11-30 00:40:34.569486
"""

from collections.abc import Sequence

from services.kit.kit_migrations import kit_0001, kit_0001_down

revision: str = "ranking_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    kit_0001("ranking")


def downgrade() -> None:
    kit_0001_down("ranking")
