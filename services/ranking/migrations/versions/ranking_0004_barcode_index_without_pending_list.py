"""the barcode index without GIN's pending list

Revision ID: ranking_0004
Revises: ranking_0003
Create Date: 2026-12-02

With ``fastupdate`` on, new entries wait in a pending list that every lookup scans in full
until a vacuum merges it: after titles were granted in bulk, a lookup by barcode took 5 ms
instead of 0.1 ms, and the planner, costing the list, sometimes left the index altogether.
Titles are written a few thousand a cycle and read all day, so they go straight into the
index. Whatever waits in the list now is merged here.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ranking_0004"
down_revision: str | None = "ranking_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER INDEX ranking.ix_titles_barcodes SET (fastupdate = off)")
    op.execute("SELECT gin_clean_pending_list('ranking.ix_titles_barcodes'::regclass)")


def downgrade() -> None:
    op.execute("ALTER INDEX ranking.ix_titles_barcodes RESET (fastupdate)")
