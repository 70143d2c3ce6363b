"""What the write planner reads and writes: stored state, intents, the write plan.

Plain values: the repository builds the state, the service and the sync build the intents,
``planner.plan`` makes the plan and ``writer.execute`` applies it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from services.registry.standards.content import Checked


@dataclass(frozen=True)
class EnterpriseState:
    uscc: str
    name: str
    region: str
    industry_code: str | None
    address: str | None
    blocked: bool
    uscc_exception: str | None
    row_version: int


@dataclass(frozen=True)
class StoredStandard:
    """A stored standard with its current version's content hash."""

    id: uuid.UUID
    uscc: str
    source_id: str | None
    status: str
    current_version: int
    row_version: int
    standard_no_key: str
    category_code: str
    content_hash: str


@dataclass
class State:
    """What the planner reads: the enterprises and standards concerned, and which standard
    holds each (enterprise, standard number key)."""

    enterprises: dict[str, EnterpriseState] = field(default_factory=dict)
    by_source: dict[str, StoredStandard] = field(default_factory=dict)
    by_id: dict[uuid.UUID, StoredStandard] = field(default_factory=dict)
    holders: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)


# ---- intents --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Declare:
    """声明: a new standard of an enterprise (POST /v1/standards)."""

    uscc: str
    checked: Checked


@dataclass(frozen=True)
class Revise:
    """A new version, correction (修改) or revision (修订), of a current standard."""

    standard_id: uuid.UUID
    kind: str
    note: str | None
    checked: Checked


@dataclass(frozen=True)
class Withdraw:
    """废止: the standard stays, abolished, with its reason."""

    standard_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class FirmTarget:
    """The enterprise as the national platform has it (code and region already checked);
    a null industry code or address keeps the stored one."""

    uscc: str
    name: str
    region: str
    industry_code: str | None
    address: str | None


@dataclass(frozen=True)
class Upsert:
    """One disclosure of the national platform, keyed by its source id (批量同步)."""

    source_id: str
    firm: FirmTarget
    checked: Checked
    status: str
    withdrawn_reason: str | None


Intent = Declare | Revise | Withdraw | Upsert


# ---- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why an intent writes nothing; ``conflict`` (409) or not (422), ``forbidden`` (403)."""

    code: str
    field: str
    message: str
    kind: Literal["conflict", "invalid", "forbidden"] = "conflict"


@dataclass(frozen=True)
class Outcome:
    result: Literal["created", "updated", "unchanged", "refused"]
    standard_id: uuid.UUID | None = None
    version: int | None = None
    refusal: Refusal | None = None


@dataclass(frozen=True)
class AuditEntry:
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any] | None


FirmState = tuple[str, str, str | None, str | None]  # name, region, industry code, address


@dataclass
class WritePlan:
    now: datetime
    outcomes: list[Outcome] = field(default_factory=list)
    rest: list[Intent] = field(default_factory=list)
    new_enterprises: list[dict[str, Any]] = field(default_factory=list)
    enterprise_updates: list[dict[str, Any]] = field(default_factory=list)
    new_standards: list[dict[str, Any]] = field(default_factory=list)
    standard_updates: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    # Enterprise events go before standard events: a plan's standards derive from each
    # enterprise as it is after its (one) change in the plan.
    enterprise_events: list[dict[str, Any]] = field(default_factory=list)
    standard_events: list[dict[str, Any]] = field(default_factory=list)
    audits: list[AuditEntry] = field(default_factory=list)
    reindex: set[str] = field(default_factory=set)
    # What the intents planned so far have claimed, for the ones after them.
    sources: set[str] = field(default_factory=set)
    firm_state: dict[str, FirmState] = field(default_factory=dict)
    claimed: set[tuple[str, str]] = field(default_factory=set)
    released: set[tuple[str, str]] = field(default_factory=set)
