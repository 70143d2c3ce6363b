"""Shapes of the notice board (公示/公告) and its chain."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from services.oversight.notices.chain import NotCanonical, check_value


class NoticeKind(StrEnum):
    plan_publicity = "plan_publicity"  # 评估方案公示
    shortlist_publicity = "shortlist_publicity"  # 入围名单公示
    forerunner_list = "forerunner_list"  # 领跑者名单公告
    revocation = "revocation"  # 撤销公告
    correction = "correction"  # 更正公告


PUBLICITY_KINDS = frozenset({NoticeKind.plan_publicity, NoticeKind.shortlist_publicity})


class Subject(BaseModel):
    """What a notice is about, by the id its owning service gives it."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["plan", "run", "shortlist", "title", "case", "enterprise", "standard"]
    id: str = Field(min_length=1, max_length=100)


class WindowRequest(BaseModel):
    """A publicity period (公示期): N working days from ``opens`` (default: the posting day,
    or the next working day when that is not one)."""

    model_config = ConfigDict(extra="forbid")

    working_days: int = Field(ge=1, le=60)
    opens: date | None = None


class NoticeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: NoticeKind
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=20_000)
    subject: Subject | None = None
    corrects: uuid.UUID | None = Field(
        default=None, description="The notice a correction (更正) corrects; corrections only"
    )
    window: WindowRequest | None = Field(
        default=None, description="Required for publicity notices, refused for the others"
    )
    payload: dict[str, JsonValue] = Field(
        default_factory=dict,
        description=(
            "Structured content (e.g. the listed standards). snake_case keys; integers only "
            "(decimals as strings), so that its canonical form is exact"
        ),
    )

    @field_validator("payload")
    @classmethod
    def _canonical_payload(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            check_value(value)
        except NotCanonical as err:
            raise ValueError(str(err)) from None
        return value

    @model_validator(mode="after")
    def _kind_rules(self) -> NoticeCreate:
        if (self.kind is NoticeKind.correction) != (self.corrects is not None):
            raise ValueError("a correction names the notice it corrects, and only a correction")
        if (self.kind in PUBLICITY_KINDS) != (self.window is not None):
            raise ValueError("publicity notices carry a window, and only they do")
        return self


class Window(BaseModel):
    opens: date
    closes: date = Field(description="Last day on which an objection (异议) is accepted")
    working_days: int


class NoticeOut(BaseModel):
    id: uuid.UUID
    seq: int = Field(description="Position in the chain")
    kind: NoticeKind
    title: str
    body: str
    subject: Subject | None
    corrects: uuid.UUID | None
    window: Window | None
    payload: dict[str, Any]
    posted_at: datetime
    posted_by: str
    prev_hash: str
    hash: str


class ChainEntry(BaseModel):
    seq: int
    id: uuid.UUID
    prev_hash: str
    hash: str = Field(description="SHA-256(prev_hash || entry), lowercase hex")
    entry: str = Field(description="The entry as RFC 8785 canonical JSON: the hashed bytes")


class ChainPage(BaseModel):
    items: list[ChainEntry]
    next_after: int | None = Field(description="Pass as `after` for the next page; null at end")


class ChainHead(BaseModel):
    seq: int
    hash: str
    signed_at: datetime
    key_id: str
    algorithm: Literal["Ed25519"] = "Ed25519"
    signed: str = Field(description="The signed statement: canonical JSON of seq, hash, time")
    signature: str = Field(description="Ed25519 signature of `signed` (UTF-8), base64")
    public_key_url: str = "/v1/notices/chain/public-key"


class PublicKeyOut(BaseModel):
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str
    public_key: str = Field(description="Raw 32-byte public key, base64")
    pem: str
