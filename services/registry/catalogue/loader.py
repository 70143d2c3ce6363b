"""Load and check the starter category catalogue shipped as ``categories.json``.

The file is ``{"version": int, "description": str, "categories": [...]}``; each category is
``{code, name, parent, gbt4754, indicators}`` and each indicator
``{code, name, unit, direction, national_requirement, requirement_source}``.

``direction`` says which way is better (``higher``: a larger value is better and
``national_requirement`` is a minimum; ``lower``: a smaller value is better and the
requirement is a maximum). ``unit`` is ``""`` for dimensionless values (Ra, power factor,
washing ratio). ``national_requirement`` is the limit of the national/mandatory rule named by
``requirement_source``; both are null when no single national limit applies.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "CatalogueError",
    "CategorySpec",
    "IndicatorSpec",
    "load_catalogue",
    "parse_catalogue",
]

CATALOGUE_RESOURCE = "categories.json"


class CatalogueError(ValueError):
    """The catalogue data is malformed; ``problems`` lists every issue found."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid category catalogue: " + "; ".join(self.problems))


class IndicatorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$", max_length=64)
    name: str = Field(min_length=1, max_length=100)
    unit: str = Field(max_length=32)
    direction: Literal["higher", "lower"]
    national_requirement: float | None = None
    requirement_source: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("national_requirement")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("national_requirement must be a finite number")
        return value

    @model_validator(mode="after")
    def _source_with_requirement(self) -> IndicatorSpec:
        if (self.national_requirement is None) != (self.requirement_source is None):
            raise ValueError(
                "national_requirement and requirement_source must be given together or both null"
            )
        return self


class CategorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*$", max_length=64)
    name: str = Field(min_length=1, max_length=100)
    parent: str | None = None
    gbt4754: str | None = Field(default=None, pattern=r"^(?:[A-T]|\d{2,4})$")
    indicators: tuple[IndicatorSpec, ...] = ()

    @field_validator("indicators")
    @classmethod
    def _unique_indicator_codes(cls, value: tuple[IndicatorSpec, ...]) -> tuple[IndicatorSpec, ...]:
        seen: set[str] = set()
        for indicator in value:
            if indicator.code in seen:
                raise ValueError(f"duplicate indicator code {indicator.code!r}")
            seen.add(indicator.code)
        return value


class _CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    description: str = ""
    categories: tuple[CategorySpec, ...]


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "<root>"


def _check_tree(categories: Sequence[CategorySpec]) -> list[str]:
    problems: list[str] = []
    by_code: dict[str, CategorySpec] = {}
    for category in categories:
        if category.code in by_code:
            problems.append(f"duplicate category code {category.code!r}")
        by_code[category.code] = category
    for category in categories:
        if category.parent is not None and category.parent not in by_code:
            problems.append(
                f"category {category.code!r}: parent {category.parent!r} does not exist"
            )
    reported: set[str] = set()
    for category in categories:
        chain = [category.code]
        parent = category.parent
        while parent is not None and parent in by_code:
            if parent in chain:
                cycle = [*chain[chain.index(parent) :], parent]
                if not reported.intersection(cycle):
                    problems.append("parent cycle: " + " -> ".join(cycle))
                    reported.update(cycle)
                break
            chain.append(parent)
            parent = by_code[parent].parent
    parents = {c.parent for c in categories if c.parent is not None}
    for category in categories:
        if category.code not in parents and not category.indicators:
            problems.append(f"category {category.code!r} has no children and no indicators")
    return problems


def parse_catalogue(data: object) -> list[CategorySpec]:
    """Validate already-decoded catalogue JSON; raise :class:`CatalogueError` if it is bad.

    Checks the schema (unknown keys, code formats, directions, numbers) and then the tree:
    unique category codes, existing parents, no parent cycles, indicators on every leaf and
    unique indicator codes within a category.
    """
    try:
        parsed = _CatalogueFile.model_validate(data)
    except ValidationError as exc:
        raise CatalogueError(
            [f"{_location(err['loc'])}: {err['msg']}" for err in exc.errors()]
        ) from exc
    problems = _check_tree(parsed.categories)
    if problems:
        raise CatalogueError(problems)
    return list(parsed.categories)


@cache
def _load_shipped() -> tuple[CategorySpec, ...]:
    text = (
        resources.files("services.registry.catalogue")
        .joinpath(CATALOGUE_RESOURCE)
        .read_text(encoding="utf-8")
    )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError([f"{CATALOGUE_RESOURCE} is not valid JSON: {exc}"]) from exc
    return tuple(parse_catalogue(data))


def load_catalogue() -> list[CategorySpec]:
    """The shipped starter catalogue, in file order (each parent precedes its children)."""
    return list(_load_shipped())
