"""a short GIN pending list for the search grams

Revision ID: registry_0005
Revises: registry_0004
Create Date: 2026-12-02

New disclosures' grams wait in GIN's pending list (4 MB by default) until a vacuum or the
list's limit merges them, and every search scans the list in full meanwhile. After a bulk sync
the planner, costing the list, left the index for a sequential scan: a two-character search
over 10,000 disclosures took 31 ms instead of 2.5 ms. A 256 kB limit keeps inserts batched
(the list is merged in sorted runs) while bounding what a search has to scan.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "registry_0005"
down_revision: str | None = "registry_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER INDEX registry.ix_standards_grams SET (gin_pending_list_limit = 256)")
    op.execute("SELECT gin_clean_pending_list('registry.ix_standards_grams'::regclass)")


def downgrade() -> None:
    op.execute("ALTER INDEX registry.ix_standards_grams RESET (gin_pending_list_limit)")
