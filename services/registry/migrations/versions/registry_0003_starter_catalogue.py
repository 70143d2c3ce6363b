"""load the starter catalogue of Tianjin's key sectors

Revision ID: registry_0003
Revises: registry_0002
Create Date: 2026-11-30

The data is frozen beside this migration (``registry_0003_catalogue.json``, a copy of the
catalogue as shipped then): a later catalogue ships with its own migration, and this one keeps
doing what it did, whatever the application's catalogue or models say today.
"""

import json
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "registry_0003"
down_revision: str | None = "registry_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATA = Path(__file__).with_name("registry_0003_catalogue.json")

categories = sa.table(
    "categories",
    sa.column("code"),
    sa.column("name"),
    sa.column("parent"),
    sa.column("gbt4754"),
    sa.column("position"),
    schema="registry",
)
indicators = sa.table(
    "category_indicators",
    sa.column("category_code"),
    sa.column("code"),
    sa.column("name"),
    sa.column("unit"),
    sa.column("direction"),
    sa.column("national_requirement"),
    sa.column("requirement_source"),
    sa.column("position"),
    schema="registry",
)


def upgrade() -> None:
    catalogue = json.loads(DATA.read_text(encoding="utf-8"))["categories"]
    op.bulk_insert(
        categories,
        [
            {k: cat[k] for k in ("code", "name", "parent", "gbt4754")} | {"position": i}
            for i, cat in enumerate(catalogue)
        ],
    )
    op.bulk_insert(
        indicators,
        [
            {
                "category_code": cat["code"],
                "code": ind["code"],
                "name": ind["name"],
                "unit": ind["unit"],
                "direction": ind["direction"],
                "national_requirement": ind.get("national_requirement"),
                "requirement_source": ind.get("requirement_source"),
                "position": j,
            }
            for cat in catalogue
            for j, ind in enumerate(cat["indicators"])
        ],
    )


def downgrade() -> None:
    # Categories may be referenced by standards by now; the catalogue stays.
    pass
