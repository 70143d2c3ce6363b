"""Periodic background work of a service, run in every replica.

A step is ``async def step(app) -> int`` (how many items it handled). Several replicas run the
same steps at once, so each step must claim its items (``FOR UPDATE SKIP LOCKED``) or take an
advisory lock (``pg_try_advisory_xact_lock``) so that every item is handled once. Tests call
the step functions directly, with the app's clock moved, rather than waiting for the loop.

Each replica counts its own passes and items (``background_passes_total``,
``background_items_total`` on its /metrics) and logs the passes that handled something, so an
operator can see which replicas do the work and that no item was handled twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

log = logging.getLogger("forerunner.background")

Step = Callable[[Any], Awaitable[int]]


def _counters(app: Any, step: str) -> tuple[Any, Any] | None:
    """This step's pass and item counters in the app's metrics registry (made on first use)."""
    state: Any = getattr(app, "state", None)
    metrics = getattr(state, "metrics", None)
    if metrics is None:
        return None  # a bare app (tests of the loop itself): nothing to count into
    counters = getattr(state, "background_counters", None)
    if counters is None:
        labels = ["service", "step"]
        counters = state.background_counters = (
            Counter(
                "background_passes_total", "Background passes", labels, registry=metrics.registry
            ),
            Counter("background_items_total", "Items handled", labels, registry=metrics.registry),
        )
    passes, items = counters
    return passes.labels(metrics.service, step), items.labels(metrics.service, step)


@dataclass(frozen=True)
class Periodic:
    name: str
    interval_seconds: float
    step: Step

    async def run_forever(self, app: Any, stop: asyncio.Event) -> None:
        counted = _counters(app, self.name)
        while not stop.is_set():
            try:
                # Keep going while there is work; wait for the interval only when idle.
                while not stop.is_set():
                    handled = await self.step(app)
                    if counted is not None:
                        counted[0].inc()
                        counted[1].inc(handled)
                    if not handled:
                        break
                    log.info("background step %s handled %d item(s)", self.name, handled)
            except Exception:
                log.exception("background step %s failed", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_seconds)
