"""Periodic background work of a service, run in every replica.

A step is ``async def step(app) -> int`` (how many items it handled). Several replicas run the
same steps at once, so each step must claim its items (``FOR UPDATE SKIP LOCKED``) or take an
advisory lock (``pg_try_advisory_xact_lock``) so that every item is handled once. Tests call
the step functions directly, with the app's clock moved, rather than waiting for the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("forerunner.background")

Step = Callable[[Any], Awaitable[int]]


@dataclass(frozen=True)
class Periodic:
    name: str
    interval_seconds: float
    step: Step

    async def run_forever(self, app: Any, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                # Keep going while there is work; wait for the interval only when idle.
                while await self.step(app) and not stop.is_set():
                    pass
            except Exception:
                log.exception("background step %s failed", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_seconds)
