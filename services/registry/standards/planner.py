"""The write plan (写入计划): stored state and checked content in, every write out. Pure.

Each write of a standard goes through here, whoever asks: the API's declaration, new version
and withdrawal (a batch of one) and the national platform's bulk sync (a chunk of many). The
planner decides which standards are created, which get a new version or are withdrawn, which
are unchanged and which are refused and why, and spells out the rows, the change events and
the audit entries; ``writer.execute`` applies them set-based. No database, no clock: the
caller passes the state it read (and locked) and the time.

Intents are planned in order with the same outcome as if each had been sent alone: a later
intent sees what an earlier one planned. Where a set-based write could not keep that (the same
source id twice, an enterprise changed twice, a standard number given up and taken again), the
plan stops before the intent and hands the rest back to be planned on fresh state.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.kit.auth import Principal
from services.registry import policy
from services.registry.standards.content import Checked, content_columns
from services.registry.standards.plan import (
    AuditEntry,
    Declare,
    EnterpriseState,
    FirmState,
    Intent,
    Outcome,
    Refusal,
    Revise,
    State,
    StoredStandard,
    Upsert,
    Withdraw,
    WritePlan,
)


def plan(
    state: State,
    intents: Sequence[Intent],
    principal: Principal,
    now: datetime,
    new_id: Any = uuid.uuid4,
) -> WritePlan:
    """Plan ``intents`` in order against ``state``; those that must wait are in ``rest``."""
    planner = _Planner(state, principal, WritePlan(now=now), new_id)
    for position, intent in enumerate(intents):
        outcome = planner.intent(intent)
        if outcome is None:
            assert position > 0, "the first intent of a plan depends on nothing before it"
            planner.out.rest = list(intents[position:])
            break
        planner.out.outcomes.append(outcome)
    return planner.out


def _refused(code: str, fld: str, message: str, kind: Any = "conflict") -> Outcome:
    return Outcome("refused", refusal=Refusal(code, fld, message, kind))


class _Planner:
    def __init__(self, state: State, principal: Principal, out: WritePlan, new_id: Any) -> None:
        self.state = state
        self.principal = principal
        self.out = out
        self.new_id = new_id

    def intent(self, intent: Intent) -> Outcome | None:
        if isinstance(intent, Upsert):
            return self.upsert(intent)
        if isinstance(intent, Declare):
            return self.declare(intent)
        if isinstance(intent, Revise):
            return self.revise(intent)
        return self.withdraw(intent)

    # ---- one intent each ----------------------------------------------------------------------

    def declare(self, intent: Declare) -> Outcome:
        firm = self.state.enterprises.get(intent.uscc)
        if firm is None:
            return _refused("unknown_enterprise", "uscc", f"no enterprise {intent.uscc}", "invalid")
        if (refused := self._may_write(firm.uscc)) is not None:
            return refused
        if (refused := self._duplicate(firm.uscc, intent.checked, None)) is not None:
            return refused
        standard_id = self.new_id()
        self._create(standard_id, firm.uscc, firm.blocked, firm.name, firm.region, intent.checked)
        return Outcome("created", standard_id, 1)

    def revise(self, intent: Revise) -> Outcome:
        old = self.state.by_id[intent.standard_id]
        firm = self.state.enterprises[old.uscc]
        if (refused := self._may_write(old.uscc)) is not None:
            return refused
        if old.status != "current":
            return _refused("withdrawn", "status", f"the standard is {old.status}; it stays so")
        if old.content_hash == intent.checked.hash:
            return _refused("no_change", "content", "the content is the same as the current one")
        if (refused := self._duplicate(old.uscc, intent.checked, old.id)) is not None:
            return refused
        row = self._update_row(old)
        n = self._version(
            row, old, intent.checked, intent.kind, intent.note, firm.name, firm.region
        )
        self._audit(intent.kind, "standard", str(old.id), {"version": n})
        return Outcome("updated", old.id, n)

    def withdraw(self, intent: Withdraw) -> Outcome:
        old = self.state.by_id[intent.standard_id]
        if (refused := self._may_write(old.uscc)) is not None:
            return refused
        if old.status != "current":
            return _refused("withdrawn", "status", f"the standard is already {old.status}")
        row = self._update_row(old)
        self._withdrawn(row, "abolished", intent.reason)
        self._event("standard.withdrawn", old.uscc, old.id, old.current_version, old.category_code)
        self._audit("withdraw", "standard", str(old.id), {"reason": intent.reason})
        return Outcome("updated", old.id, old.current_version)

    def upsert(self, intent: Upsert) -> Outcome | None:
        """A sync item: create, version, withdraw or leave the standard; keep the enterprise
        as the platform has it. None when it depends on an earlier intent of this plan."""
        out, checked, e = self.out, intent.checked, intent.firm
        key = (e.uscc, checked.standard_no_key)
        firm = self.state.enterprises.get(e.uscc)
        old = self.state.by_source.get(intent.source_id)
        state = out.firm_state.get(e.uscc)
        changed_in_plan = state is not None
        if state is None and firm is not None:
            state = (firm.name, firm.region, firm.industry_code, firm.address)
        target: FirmState = (
            e.name,
            e.region,
            e.industry_code if e.industry_code is not None else (state[2] if state else None),
            e.address if e.address is not None else (state[3] if state else None),
        )
        if (
            intent.source_id in out.sources
            or key in out.released
            or (changed_in_plan and target != state)
        ):
            return None

        # Everything that can still refuse the item, before anything of it is planned.
        if old is not None and old.uscc != e.uscc:
            return _refused(
                "uscc_mismatch",
                "enterprise.uscc",
                f"source id {intent.source_id} is a standard of {old.uscc}; "
                "a standard does not move to another enterprise",
            )
        if (refused := self._may_write(e.uscc)) is not None:
            return refused
        holder = self.state.holders.get(key)
        if key in out.claimed or (holder is not None and (old is None or holder != old.id)):
            return _refused(
                "duplicate_standard_no",
                "standard.standard_no",
                f"{e.uscc} has already declared {checked.standard_no} under another source id",
            )
        content_changed = old is not None and old.content_hash != checked.hash
        status_changed = old is not None and old.status != intent.status
        if old is not None and old.status != "current" and (content_changed or status_changed):
            return _refused("withdrawn", "status", f"the standard is {old.status}; it stays so")

        detail: dict[str, Any] = {"source_id": intent.source_id, "via": "sync"}
        firm_written = self._enterprise(e.uscc, firm, state, target, detail)
        out.sources.add(intent.source_id)
        out.claimed.add(key)
        blocked = firm.blocked if firm is not None else False
        if old is None:
            standard_id = self.new_id()
            name, region = target[:2]
            self._create(standard_id, e.uscc, blocked, name, region, checked, intent, detail)
            return Outcome("created", standard_id, 1)
        if content_changed and old.standard_no_key != checked.standard_no_key:
            out.released.add((e.uscc, old.standard_no_key))
        if not (content_changed or status_changed):
            return Outcome("updated" if firm_written else "unchanged", old.id, old.current_version)
        row = self._update_row(old)
        n = old.current_version
        if content_changed:
            n = self._version(row, old, checked, "correction", None, target[0], target[1])
            self._audit("correction", "standard", str(old.id), {**detail, "version": n})
        if status_changed:
            reason = intent.withdrawn_reason
            self._withdrawn(row, intent.status, reason)
            self._event("standard.withdrawn", old.uscc, old.id, n, checked.content.category)
            self._audit(
                "withdraw",
                "standard",
                str(old.id),
                {**detail, "reason": reason, "status": intent.status},
            )
        return Outcome("updated", old.id, n)

    # ---- the writes, each written once ---------------------------------------------------------

    def _may_write(self, uscc: str) -> Outcome | None:
        if policy.may_write_standards_of(self.principal, uscc):
            return None
        return _refused(
            "forbidden", "uscc", "you may change only your own enterprise's records", "forbidden"
        )

    def _duplicate(
        self, uscc: str, checked: Checked, other_than: uuid.UUID | None
    ) -> Outcome | None:
        holder = self.state.holders.get((uscc, checked.standard_no_key))
        if holder is None or holder == other_than:
            return None
        return _refused(
            "duplicate_standard_no",
            "standard_no",
            f"{uscc} has already declared {checked.standard_no}",
        )

    def _create(
        self,
        standard_id: uuid.UUID,
        uscc: str,
        blocked: bool,
        firm_name: str,
        region: str,
        checked: Checked,
        upsert: Upsert | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """A new standard, its first version, its event and audit entry (and its withdrawal
        when the platform sends it already abolished)."""
        now = self.out.now
        status = upsert.status if upsert else "current"
        reason = upsert.withdrawn_reason if upsert else None
        withdrawn = status != "current"
        self.out.new_standards.append(
            {
                "id": standard_id,
                "uscc": uscc,
                "source_id": upsert.source_id if upsert else None,
                **content_columns(checked, firm_name, region),
                "status": status,
                "current_version": 1,
                "row_version": 1,
                "withdrawn_reason": reason,
                "withdrawn_at": now if withdrawn else None,
                "hidden": policy.hidden_for(blocked),
                "created_at": now,
                "updated_at": now,
            }
        )
        self._version_row(standard_id, 1, "initial", checked, None)
        category = checked.content.category
        self._event("standard.created", uscc, standard_id, 1, category)
        self._audit("create", "standard", str(standard_id), detail)
        if withdrawn:
            self._event("standard.withdrawn", uscc, standard_id, 1, category)
            self._audit(
                "withdraw", "standard", str(standard_id), {**(detail or {}), "reason": reason}
            )

    def _update_row(self, old: StoredStandard) -> dict[str, Any]:
        row = {"id": old.id, "row_version": old.row_version + 1, "updated_at": self.out.now}
        self.out.standard_updates.append(row)
        return row

    def _version(
        self,
        row: dict[str, Any],
        old: StoredStandard,
        checked: Checked,
        kind: str,
        note: str | None,
        firm_name: str,
        region: str,
    ) -> int:
        """A new version of a stored standard: its row, the standard's new columns, the event."""
        n = old.current_version + 1
        self._version_row(old.id, n, kind, checked, note)
        row.update(content_columns(checked, firm_name, region), current_version=n)
        self._event("standard.versioned", old.uscc, old.id, n, checked.content.category)
        return n

    def _withdrawn(self, row: dict[str, Any], status: str, reason: str | None) -> None:
        withdrawn_at = self.out.now if status != "current" else None
        row.update(status=status, withdrawn_reason=reason, withdrawn_at=withdrawn_at)

    def _version_row(
        self, standard_id: uuid.UUID, n: int, kind: str, checked: Checked, note: str | None
    ) -> None:
        self.out.versions.append(
            {
                "standard_id": standard_id,
                "n": n,
                "kind": kind,
                "content": checked.json,
                "content_hash": checked.hash,
                "note": note,
                "author_sub": self.principal.sub,
                "author_role": str(self.principal.role),
                "created_at": self.out.now,
            }
        )

    def _enterprise(
        self,
        uscc: str,
        firm: EnterpriseState | None,
        state: FirmState | None,
        target: FirmState,
        detail: dict[str, Any],
    ) -> bool:
        """Create or update the enterprise when it differs; True if anything is written."""
        if state == target:
            return False
        out = self.out
        out.firm_state[uscc] = target
        name, region, industry_code, address = target
        if firm is None:
            out.new_enterprises.append(
                {
                    "uscc": uscc,
                    "name": name,
                    "region": region,
                    "industry_code": industry_code,
                    "address": address,
                    "verification": "unverified",
                    "blocked": False,
                    "row_version": 1,
                    "created_at": out.now,
                    "updated_at": out.now,
                }
            )
            self._event("enterprise.created", uscc)
            self._audit("create", "enterprise", uscc, detail)
            return True
        assert state is not None
        out.enterprise_updates.append(
            {
                "uscc": uscc,
                "name": name,
                "region": region,
                "industry_code": industry_code,
                "address": address,
                "row_version": firm.row_version + 1,
                "updated_at": out.now,
            }
        )
        if (name, region) != state[:2]:
            # Search text and region filters of its standards follow the enterprise.
            out.reindex.add(uscc)
        self._event("enterprise.updated", uscc)
        self._audit("update", "enterprise", uscc, detail)
        return True

    def _event(
        self,
        kind: str,
        uscc: str,
        standard_id: uuid.UUID | None = None,
        version: int | None = None,
        category: str | None = None,
    ) -> None:
        events = self.out.standard_events if standard_id else self.out.enterprise_events
        events.append(
            {
                "kind": kind,
                "uscc": uscc,
                "standard_id": standard_id,
                "version": version,
                "category_code": category,
            }
        )

    def _audit(
        self, action: str, entity: str, entity_id: str, detail: dict[str, Any] | None
    ) -> None:
        self.out.audits.append(AuditEntry(action, entity, entity_id, detail or None))
