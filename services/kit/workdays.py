"""Working days on the Chinese calendar (statutory holidays and make-up workdays).

The maintained ``chinese-calendar`` package supplies the years it knows; the regulator's
configuration file supplies any year it does not know yet. A date in a year neither covers
is refused rather than guessed: a deadline computed on a wrong calendar is worse than none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


class CalendarYearMissing(ValueError):
    def __init__(self, year: int) -> None:
        super().__init__(
            f"no working-day calendar for {year}: add it to the regulator's calendar file"
        )
        self.year = year


def today_shanghai(now: datetime | None = None) -> date:
    return (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()


class WorkdayCalendar:
    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        extra_years: Iterable[int] = (),
    ) -> None:
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self.extra_years = frozenset(extra_years) | {
            d.year for d in self.extra_holidays | self.extra_workdays
        }
        known = chinese_calendar.holidays.keys() | chinese_calendar.workdays.keys()
        self.package_years = frozenset(d.year for d in known)

    @classmethod
    def from_file(cls, path: Path | None) -> WorkdayCalendar:
        """Read ``{"2027": {"holidays": [...], "workdays": [...]}}``; None gives the package's."""
        if path is None:
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        holidays: list[date] = []
        workdays: list[date] = []
        years: list[int] = []
        for year, spec in data.items():
            years.append(int(year))
            holidays += [date.fromisoformat(d) for d in spec.get("holidays", [])]
            workdays += [date.fromisoformat(d) for d in spec.get("workdays", [])]
        for d in [*holidays, *workdays]:
            if str(d.year) not in data:
                raise ValueError(f"{d} is listed under another year")
        return cls(holidays, workdays, years)

    def covers(self, year: int) -> bool:
        return year in self.package_years or year in self.extra_years

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if day.year in self.extra_years:
            # A configured year is complete on its own: weekends off unless listed as workdays.
            return day.weekday() < 5
        if day.year not in self.package_years:
            raise CalendarYearMissing(day.year)
        return bool(chinese_calendar.is_workday(day))

    def add_workdays(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = start
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_workday(current):
                remaining -= 1
        return current

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            count += self.is_workday(current)
        return count
