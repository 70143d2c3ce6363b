"""Write the shipped catalogue into the registry's tables (idempotent upsert).

Called by a data migration; a later change to ``categories.json`` ships with a new migration
that calls it again, so every database says which catalogue it holds.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete
from sqlalchemy.dialects.postgresql import insert

from services.registry.catalogue.loader import load_catalogue
from services.registry.models import Category, CategoryIndicator


def sync_catalogue(connection: Connection) -> int:
    categories = load_catalogue()
    for position, cat in enumerate(categories):
        stmt = insert(Category).values(
            code=cat.code, name=cat.name, parent=cat.parent, gbt4754=cat.gbt4754, position=position
        )
        connection.execute(
            stmt.on_conflict_do_update(
                index_elements=[Category.code],
                set_={
                    "name": stmt.excluded.name,
                    "parent": stmt.excluded.parent,
                    "gbt4754": stmt.excluded.gbt4754,
                    "position": stmt.excluded.position,
                },
            )
        )
        codes = [ind.code for ind in cat.indicators]
        connection.execute(
            delete(CategoryIndicator).where(
                CategoryIndicator.category_code == cat.code, CategoryIndicator.code.not_in(codes)
            )
        )
        for ipos, ind in enumerate(cat.indicators):
            istmt = insert(CategoryIndicator).values(
                category_code=cat.code,
                code=ind.code,
                name=ind.name,
                unit=ind.unit,
                direction=ind.direction,
                national_requirement=ind.national_requirement,
                requirement_source=ind.requirement_source,
                position=ipos,
            )
            connection.execute(
                istmt.on_conflict_do_update(
                    index_elements=[CategoryIndicator.category_code, CategoryIndicator.code],
                    set_={
                        c: istmt.excluded[c]
                        for c in (
                            "name",
                            "unit",
                            "direction",
                            "national_requirement",
                            "requirement_source",
                            "position",
                        )
                    },
                )
            )
    return len(categories)
