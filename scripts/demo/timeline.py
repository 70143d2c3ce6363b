"""The clock of ranking and oversight during a seeding.

Publicity windows close after working days. The demo plays its cycle out in the past: ranking
and oversight are restarted with their clocks some weeks back (``CLOCK_OFFSET_DAYS``, which
production refuses) and moved forward past each window, and at the end back to the real time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Protocol

from services.kit.workdays import today_shanghai


class Clocks(Protocol):
    def __call__(self, offset_days: int) -> None:
        """Restart ranking and oversight with their clocks ``offset_days`` from the real time."""


class Timeline:
    """The clock of ranking and oversight, moved only forward except to start a fresh cycle
    in the past and, at the end, back to the real time."""

    def __init__(self, clocks: Clocks, say: Callable[[str], None]) -> None:
        self.clocks = clocks
        self.say = say
        self.offset = 0

    def today(self) -> date:
        return today_shanghai() + timedelta(days=self.offset)

    def _set(self, offset: int) -> None:
        if offset != self.offset:
            self.say(f"  clocks of ranking and oversight set to {self._on(offset)}")
            self.clocks(offset)
            self.offset = offset

    @staticmethod
    def _on(offset: int) -> str:
        return (today_shanghai() + timedelta(days=offset)).isoformat() + (
            " (today)" if offset == 0 else ""
        )

    def rewind(self, days: int) -> None:
        self._set(-days)

    def go(self, day: date) -> None:
        self._set(max(self.offset, (day - today_shanghai()).days))

    def reset(self) -> None:
        self._set(0)
