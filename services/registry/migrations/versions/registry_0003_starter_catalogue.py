"""load the starter catalogue of Tianjin's key sectors

Revision ID: registry_0003
Revises: registry_0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

from services.registry.catalogue.sync import sync_catalogue

revision: str = "registry_0003"
down_revision: str | None = "registry_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sync_catalogue(op.get_bind())


def downgrade() -> None:
    # Categories may be referenced by standards by now; the catalogue stays.
    pass
