"""The transactional outbox: decisions that must reach another service are never lost.

A message is written in the same transaction as the decision. The relay claims a batch in a
short transaction (``FOR UPDATE SKIP LOCKED``, then a lease: ``next_attempt_at`` pushed past
the longest delivery), delivers each message over HTTP with its message id as idempotency key
outside any transaction, and records each outcome on its own. Several replicas may run the
relay at once: a leased message is not claimed again unless its relay died, and then the
idempotency key makes the second delivery harmless. A message that cannot be delivered stays
in the table (``failed``, with its last error) for an operator to see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.context import current_request_id, request_id_var
from services.kit.db import KitTables
from services.kit.http import ServiceClient, ServiceError

log = logging.getLogger("forerunner.outbox")

MAX_BACKOFF_SECONDS = 600
MAX_ATTEMPTS = 20
LEASE_SECONDS = 120


async def enqueue(
    session: AsyncSession,
    tables: KitTables,
    *,
    target: str,
    path: str,
    payload: Any,
    method: str = "POST",
    message_id: str | None = None,
) -> str:
    """Write a message in the caller's transaction; it is sent only if that commits."""
    message_id = message_id or uuid.uuid4().hex
    await session.execute(
        tables.outbox.insert().values(
            message_id=message_id,
            target=target,
            method=method,
            path=path,
            payload=payload,
            request_id=current_request_id(),
        )
    )
    return message_id


def backoff_seconds(attempts: int) -> float:
    return float(min(2**attempts, MAX_BACKOFF_SECONDS))


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tables: KitTables,
        clients: Mapping[str, ServiceClient],
        *,
        batch_size: int = 50,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tables = tables
        self.clients = clients
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds

    async def claim(self) -> list[Any]:
        """Lease a batch of due messages to this relay, in a transaction of its own."""
        outbox = self.tables.outbox
        async with self.sessionmaker() as session, session.begin():
            due = (
                select(outbox.c.id)
                .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= func.now())
                .order_by(outbox.c.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            rows = (
                await session.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(due))
                    .values(
                        next_attempt_at=func.now()
                        + text(f"interval '{int(self.lease_seconds)} seconds'")
                    )
                    .returning(*outbox.c)
                )
            ).all()
        return sorted(rows, key=lambda r: r.id)

    async def run_once(self) -> int:
        """Claim and deliver one batch; returns how many messages were delivered."""
        outbox = self.tables.outbox
        delivered = 0
        for row in await self.claim():
            values = await self._deliver(row)
            delivered += values.get("status") == "delivered"
            async with self.sessionmaker() as session, session.begin():
                await session.execute(outbox.update().where(outbox.c.id == row.id).values(**values))
        return delivered

    async def _deliver(self, row: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        client = self.clients.get(row.target)
        attempts = row.attempts + 1
        if client is None:
            return {"status": "failed", "attempts": attempts, "last_error": "unknown target"}
        token = request_id_var.set(row.request_id)
        try:
            await client.request(
                row.method, row.path, json=row.payload, idempotency_key=row.message_id
            )
        except Exception as exc:
            retryable = not isinstance(exc, ServiceError) or exc.retryable
            error = (
                f"{exc.status} {exc.code}: {exc.detail}"
                if isinstance(exc, ServiceError)
                else f"{type(exc).__name__}"
            )[:2000]
            if retryable and attempts < MAX_ATTEMPTS:
                log.warning("outbox delivery will be retried: %s", error)
                return {
                    "attempts": attempts,
                    "last_error": error,
                    "next_attempt_at": now + timedelta(seconds=backoff_seconds(attempts)),
                }
            log.error("outbox message %s failed: %s", row.message_id, error)
            return {"status": "failed", "attempts": attempts, "last_error": error}
        finally:
            request_id_var.reset(token)
        return {
            "status": "delivered",
            "attempts": attempts,
            "delivered_at": now,
            "last_error": None,
        }

    async def run_forever(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                delivered = await self.run_once()
            except Exception:
                log.exception("outbox relay pass failed")
                delivered = 0
            if delivered == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
