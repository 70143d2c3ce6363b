"""/v1/categories — the catalogue (产品/服务类别) with each category's indicator vocabulary."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from services.kit.db import SessionDep
from services.kit.pagination import CursorQuery, LimitQuery, Page, paginate
from services.kit.problems import PROBLEM_RESPONSES, NotFound
from services.registry.models import Category, CategoryIndicator

router = APIRouter(prefix="/v1/categories", tags=["categories"], responses=PROBLEM_RESPONSES)


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


async def _indicators(session: SessionDep, codes: list[str]) -> dict[str, list[IndicatorWord]]:
    rows = (
        await session.execute(
            select(CategoryIndicator)
            .where(CategoryIndicator.category_code.in_(codes))
            .order_by(CategoryIndicator.category_code, CategoryIndicator.position)
        )
    ).scalars()
    out: dict[str, list[IndicatorWord]] = {c: [] for c in codes}
    for row in rows:
        out[row.category_code].append(IndicatorWord.model_validate(row, from_attributes=True))
    return out


def _out(cat: Category, words: list[IndicatorWord]) -> CategoryOut:
    return CategoryOut(
        code=cat.code, name=cat.name, parent=cat.parent, gbt4754=cat.gbt4754, indicators=words
    )


@router.get("", summary="The category catalogue (产品/服务类别)", response_model=Page[CategoryOut])
async def list_categories(
    session: SessionDep, limit: LimitQuery = 20, cursor: CursorQuery = None
) -> Page[CategoryOut]:
    page: Page[Category] = await paginate(session, select(Category), [Category.code], cursor, limit)
    words = await _indicators(session, [c.code for c in page.items])
    return Page(items=[_out(c, words[c.code]) for c in page.items], next_cursor=page.next_cursor)


@router.get(
    "/{code}", summary="One category with its indicator vocabulary", response_model=CategoryOut
)
async def get_category(code: str, session: SessionDep) -> CategoryOut:
    cat = await session.get(Category, code)
    if cat is None:
        raise NotFound(f"no category {code}")
    return _out(cat, (await _indicators(session, [code]))[code])
