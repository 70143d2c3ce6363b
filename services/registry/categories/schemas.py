"""The catalogue as callers see it: a category (产品/服务类别) and its indicator vocabulary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class IndicatorWord(BaseModel):
    code: str
    name: str
    unit: str
    direction: Literal["higher", "lower"]
    national_requirement: float | None
    requirement_source: str | None


class CategoryOut(BaseModel):
    code: str
    name: str
    parent: str | None
    gbt4754: str | None
    indicators: list[IndicatorWord]
