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

from services.kit.kit_migrations import kit_0002_notify_changes, kit_0002_notify_changes_down

revision: str = "ranking_0005"
down_revision: str | None = "ranking_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ["titles"]


def upgrade() -> None:
    for statement in kit_0002_notify_changes("ranking", "ranking_changed", TABLES):
        op.execute(statement)


def downgrade() -> None:
    for statement in kit_0002_notify_changes_down("ranking", TABLES):
        op.execute(statement)
