"""The audit trail: who (sub, role, org) did what (action, entity, id), when, in which request."""

from __future__ import annotations

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
