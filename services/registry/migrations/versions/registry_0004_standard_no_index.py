"""an index for searching by a whole standard number

Revision ID: registry_0004
Revises: registry_0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "registry_0004"
down_revision: str | None = "registry_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_standards_standard_no_key_pattern",
        "standards",
        ["standard_no_key"],
        schema="registry",
        postgresql_ops={"standard_no_key": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_standards_standard_no_key_pattern", table_name="standards", schema="registry")
