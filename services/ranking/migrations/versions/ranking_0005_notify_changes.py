"""the titles notify their changes

Revision ID: ranking_0005
Revises: ranking_0004
Create Date: 2026-12-02

"Is this a current forerunner" is kept in each process's memory until the titles change
(``services.kit.fresh``): each statement that changes a title notifies ``ranking_changed``
when its transaction commits, so a revocation is seen by every replica within milliseconds.
"""

from collections.abc import Sequence

from alembic import op

from services.kit.fresh import drop_notify_changes_sql, notify_changes_sql

revision: str = "ranking_0005"
down_revision: str | None = "ranking_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ["titles"]


def upgrade() -> None:
    for statement in notify_changes_sql("ranking", "ranking_changed", TABLES):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_notify_changes_sql("ranking", TABLES):
        op.execute(statement)
