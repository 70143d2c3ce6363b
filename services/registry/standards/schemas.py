"""Declared standard (自我声明公开的标准) request and response bodies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

# Strict: a number must be a JSON number, not a string that looks like one; never NaN/inf.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Product(Strict):
    """A product the standard covers."""

    name: str = Field(min_length=1, max_length=200, description="产品名称")
    generic_name: str | None = Field(default=None, max_length=200, description="通用名称")
    brand: str | None = Field(default=None, max_length=100, description="品牌")
    barcode: str | None = Field(default=None, max_length=20, description="GTIN 商品条码")
    specification: str | None = Field(default=None, max_length=200, description="规格")
    model: str | None = Field(default=None, max_length=200, description="型号")


class Requirement(Strict):
    """The national or industry requirement an indicator is compared with."""

    value: Number
    source: str | None = Field(default=None, max_length=200, description="e.g. GB 12021.6-2017")


class IndicatorValue(Strict):
    """One declared indicator (技术指标): a vocabulary code, or free text that never ranks."""

    code: str | None = Field(default=None, max_length=64, description="code from the category")
    name: str | None = Field(default=None, max_length=100, description="free-text indicator")
    operator: Literal["≥", "≤", "=", "range"] = Field(description="how the value binds")
    value: Number | None = None
    value_min: Number | None = None
    value_max: Number | None = None
    unit: str | None = Field(default=None, max_length=30)
    test_method: str | None = Field(default=None, max_length=200, description="检验方法 (Art. 12)")
    requirement: Requirement | None = None

    @model_validator(mode="before")
    @classmethod
    def _ascii_operators(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("operator") in (">=", "<="):
            data = {**data, "operator": {">=": "≥", "<=": "≤"}[data["operator"]]}
        return data

    @model_validator(mode="after")
    def _shape(self) -> IndicatorValue:
        if (self.code is None) == (self.name is None):
            raise ValueError("give either a vocabulary code or a free-text name")
        if self.operator == "range":
            if self.value_min is None or self.value_max is None:
                raise ValueError("a range needs value_min and value_max")
            if self.value_min > self.value_max:
                raise ValueError("value_min is above value_max")
            if self.value is not None:
                raise ValueError("a range has value_min and value_max, not value")
        elif self.value is None:
            raise ValueError("value is required")
        return self


class StandardContent(Strict):
    """The declared content; every change of it makes a new immutable version."""

    standard_no: str = Field(min_length=2, max_length=100, description="标准编号, as written")
    name: str = Field(min_length=1, max_length=300, description="标准名称")
    subject: Literal["product", "service"] = Field(description="产品或服务")
    category: str = Field(max_length=64, description="category code from /v1/categories")
    publication_date: date | None = Field(default=None, description="发布日期")
    implementation_date: date | None = Field(default=None, description="实施日期")
    products: list[Product] = Field(default_factory=list, max_length=500)
    indicators: list[IndicatorValue] = Field(default_factory=list, max_length=200)
    below_recommended_statement: str | None = Field(
        default=None,
        max_length=2000,
        description="Art. 14 statement where the standard is below a recommended standard",
    )
    full_text_public: bool = Field(description="whether the full text is public")
    self_commitment: bool = Field(description="自我声明承诺: required, must be true")

    @field_validator("implementation_date")
    @classmethod
    def _not_before_publication(cls, value: date | None, info: ValidationInfo) -> date | None:
        published = info.data.get("publication_date")
        if value is not None and published is not None and value < published:
            raise ValueError("the implementation date is before the publication date")
        return value

    @field_validator("self_commitment")
    @classmethod
    def _committed(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("the self-commitment (自我声明承诺) is required")
        return value


class StandardCreate(StandardContent):
    uscc: str = Field(description="the declaring enterprise")


class VersionCreate(Strict):
    kind: Literal["correction", "revision"] = Field(description="修改 correction or 修订 revision")
    content: StandardContent
    note: str | None = Field(default=None, max_length=1000)


class Withdrawal(Strict):
    reason: str = Field(min_length=2, max_length=1000, description="废止原因")


Status = Literal["current", "abolished", "superseded"]


class StandardSummary(BaseModel):
    id: uuid.UUID
    uscc: str
    standard_no: str
    standard_type: str
    name: str
    category: str
    region: str
    status: Status
    publication_date: date | None
    implementation_date: date | None
    current_version: int
    updated_at: datetime


class StandardOut(StandardSummary):
    enterprise_name: str
    withdrawn_reason: str | None
    withdrawn_at: datetime | None
    created_at: datetime
    content: StandardContent


class VersionOut(BaseModel):
    standard_id: uuid.UUID
    n: int
    kind: Literal["initial", "correction", "revision"]
    content: StandardContent
    content_hash: str
    note: str | None
    author_role: str
    created_at: datetime


class VersionSummary(BaseModel):
    n: int
    kind: Literal["initial", "correction", "revision"]
    content_hash: str
    note: str | None
    author_role: str
    created_at: datetime
