"""Shapes of exclusions (不得参评): who may not be evaluated, until when."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, Field


class ExclusionOut(BaseModel):
    id: uuid.UUID
    uscc: str
    starts_on: date
    ends_on: date = Field(description="Last day of the exclusion (inclusive)")
    decision_id: uuid.UUID
    reason: str
