"""Set-based execution of a write plan: a few statements for a whole plan, whatever its size.

Parents go before children (enterprises, standards, versions), updates before inserts (a
standard number given up in the plan may be taken by a new standard of it), then the change
events and the audit entries in bulk, then the search index of renamed enterprises.
"""

from __future__ import annotations

import uuid
from collections.abc import Container, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit import audit
from services.kit.auth import Principal
from services.registry.changes import repository as changes
from services.registry.enterprises import repository as enterprises
from services.registry.models import kit_tables
from services.registry.standards import repository
from services.registry.standards.content import Checked, searchable
from services.registry.standards.plan import AuditEntry, WritePlan
from services.registry.standards.schemas import StandardContent


async def execute(session: AsyncSession, plan: WritePlan, principal: Principal) -> None:
    audits = plan.audits
    enterprise_events = plan.enterprise_events
    inserted = await enterprises.insert_new(session, plan.new_enterprises)
    raced = {row["uscc"] for row in plan.new_enterprises} - inserted
    if raced:
        # They registered themselves meanwhile: their own creation stands, not ours.
        enterprise_events = [
            e
            for e in enterprise_events
            if not (e["kind"] == "enterprise.created" and e["uscc"] in raced)
        ]
        audits = [
            a
            for a in audits
            if not (a.entity == "enterprise" and a.action == "create" and a.entity_id in raced)
        ]
    await enterprises.update_many(session, plan.enterprise_updates)
    await repository.update_standards(session, plan.standard_updates)
    await repository.insert_standards(session, plan.new_standards)
    await repository.insert_versions(session, plan.versions)
    await changes.record_many(session, enterprise_events + plan.standard_events)
    await record_audits(session, principal, audits)
    if plan.reindex:
        # A standard this plan wrote already has its new row version.
        bumped = {row["id"] for row in plan.new_standards + plan.standard_updates}
        await reindex(session, plan.reindex, plan.now, bumped)


async def record_audits(
    session: AsyncSession, principal: Principal, entries: Iterable[AuditEntry]
) -> None:
    """``audit.record_many`` once per kind of entry."""
    kinds: dict[tuple[str, str], list[tuple[str, dict[str, Any] | None]]] = {}
    for entry in entries:
        kinds.setdefault((entry.action, entry.entity), []).append((entry.entity_id, entry.detail))
    for (action, entity), batch in kinds.items():
        await audit.record_many(session, kit_tables, principal, action, entity, batch)


async def reindex(
    session: AsyncSession,
    usccs: Iterable[str],
    now: datetime,
    bumped: Container[uuid.UUID] = frozenset(),
) -> None:
    """Re-derive the search text and region of these enterprises' standards (after a rename
    or a move), from each one's current content.

    What a reader of the standard sees changes with them (its enterprise's name, its region),
    so its row version moves on too: an ETag or If-Match taken before the rename is stale.
    """
    wanted = set(usccs)
    firms = await enterprises.lock_states(session, wanted, for_update=True)
    rows = []
    for standard_id, uscc, standard_no, row_version, stored in await repository.current_contents(
        session, wanted
    ):
        content = StandardContent.model_validate(stored)
        # Only the number (stored normalised) and the texts count for the index.
        checked = Checked(content, standard_no, standard_no.replace(" ", ""), "", "")
        search_text, grams = searchable(checked, firms[uscc].name)
        rows.append(
            {
                "id": standard_id,
                "search_text": search_text,
                "grams": grams,
                "region": firms[uscc].region,
                "row_version": row_version + (standard_id not in bumped),
                "updated_at": now,
            }
        )
    await repository.update_standards(session, rows)
