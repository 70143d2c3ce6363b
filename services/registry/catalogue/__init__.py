"""Starter catalogue of product and service categories with their key indicators."""

from services.registry.catalogue.loader import (
    CatalogueError,
    CategorySpec,
    IndicatorSpec,
    load_catalogue,
    parse_catalogue,
)

__all__ = ["CatalogueError", "CategorySpec", "IndicatorSpec", "load_catalogue", "parse_catalogue"]
