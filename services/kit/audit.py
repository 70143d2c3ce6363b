"""The audit trail: who (sub, role, org) did what (action, entity, id), when, in which request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal
from services.kit.context import current_request_id
from services.kit.db import KitTables


async def record(
    session: AsyncSession,
    tables: KitTables,
    principal: Principal | None,
    action: str,
    entity: str,
    entity_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit row in the caller's transaction: it stands or falls with the change."""
    await session.execute(
        tables.audit.insert().values(
            sub=principal.sub if principal else None,
            role=str(principal.role) if principal else None,
            org=principal.org if principal else None,
            action=action,
            entity=entity,
            entity_id=entity_id,
            request_id=current_request_id(),
            detail=detail,
        )
    )


async def record_many(
    session: AsyncSession,
    tables: KitTables,
    principal: Principal | None,
    action: str,
    entity: str,
    entries: Sequence[tuple[str, dict[str, Any] | None]],
) -> None:
    """One audit row per ``(entity_id, detail)``, written in one statement (bulk writes)."""
    if not entries:
        return
    who = {
        "sub": principal.sub if principal else None,
        "role": str(principal.role) if principal else None,
        "org": principal.org if principal else None,
        "request_id": current_request_id(),
    }
    await session.execute(
        tables.audit.insert(),
        [
            {**who, "action": action, "entity": entity, "entity_id": entity_id, "detail": detail}
            for entity_id, detail in entries
        ],
    )
