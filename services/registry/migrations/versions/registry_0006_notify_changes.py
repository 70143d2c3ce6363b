"""the tables of the kept public reads notify their changes

Revision ID: registry_0006
Revises: registry_0005
Create Date: 2026-12-02

A standard by id, a search page and the catalogue are kept in each process's memory until
one of the tables they are read from changes (``services.kit.fresh``). Each statement that
changes a row of one notifies ``registry_changed`` when its transaction commits.
"""

from collections.abc import Sequence

from alembic import op

from services.kit.kit_migrations import kit_0002_notify_changes, kit_0002_notify_changes_down

revision: str = "registry_0006"
down_revision: str | None = "registry_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ["standards", "standard_versions", "enterprises", "categories", "category_indicators"]


def upgrade() -> None:
    for statement in kit_0002_notify_changes("registry", "registry_changed", TABLES):
        op.execute(statement)


def downgrade() -> None:
    for statement in kit_0002_notify_changes_down("registry", TABLES):
        op.execute(statement)
