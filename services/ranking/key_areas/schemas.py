"""Bodies of /v1/key-areas (重点领域)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Level = Literal["national", "municipal"]
# A code names one catalogue entry (HA-RICE-COOKER) and becomes a path segment of the call to
# the registry: an empty one, ``..`` or a slash would ask it for some other resource.
CategoryCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class KeyAreaCreate(Strict):
    year: int = Field(ge=2000, le=2100, description="evaluation year")
    level: Level = Field(description="national (国家级) or municipal (市级)")
    name: str = Field(min_length=1, max_length=200, description="领域名称")
    categories: list[CategoryCode] = Field(
        min_length=1, max_length=200, description="registry category codes it covers"
    )


class KeyAreaUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    categories: list[CategoryCode] | None = Field(default=None, min_length=1, max_length=200)


class KeyAreaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    year: int
    level: Level
    name: str
    categories: list[str]
    created_at: datetime
    updated_at: datetime
