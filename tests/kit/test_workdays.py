"""Working days on the Chinese calendar."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from services.kit.workdays import CalendarYearMissing, WorkdayCalendar, today_shanghai

cal = WorkdayCalendar()


def test_national_day_week_is_not_working_days():
    # 2025: 1–8 October off; Sunday 28 September and Saturday 11 October are make-up workdays.
    assert all(not cal.is_workday(date(2025, 10, d)) for d in range(1, 9))
    assert cal.is_workday(date(2025, 9, 28))  # make-up Sunday
    assert cal.is_workday(date(2025, 10, 11))  # make-up Saturday
    assert not cal.is_workday(date(2025, 10, 12))  # ordinary Sunday


def test_adding_working_days_skips_the_holiday_and_counts_the_make_up_saturday():
    assert cal.add_workdays(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert cal.add_workdays(date(2025, 9, 30), 3) == date(2025, 10, 11)
    # Fri 26 Sep: 28 (make-up Sun), 29, 30, then 9, 10, 11 (make-up Sat), 13.
    assert cal.add_workdays(date(2025, 9, 26), 7) == date(2025, 10, 13)
    assert cal.add_workdays(date(2025, 9, 30), 0) == date(2025, 9, 30)


def test_working_days_between():
    assert cal.workdays_between(date(2025, 9, 30), date(2025, 10, 11)) == 3
    assert cal.workdays_between(date(2025, 10, 11), date(2025, 10, 11)) == 0


def test_a_year_the_package_lacks_is_refused_not_guessed():
    with pytest.raises(CalendarYearMissing) as info:
        cal.is_workday(date(2031, 3, 3))
    assert info.value.year == 2031


def test_regulator_file_adds_a_missing_year(tmp_path):
    spec = {"2031": {"holidays": ["2031-01-01", "2031-01-02"], "workdays": ["2031-01-04"]}}
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps(spec))
    extended = WorkdayCalendar.from_file(path)
    assert extended.covers(2031)
    assert not extended.is_workday(date(2031, 1, 1))  # listed holiday, a Wednesday
    assert extended.is_workday(date(2031, 1, 4))  # make-up Saturday
    assert not extended.is_workday(date(2031, 1, 5))  # plain Sunday
    assert extended.add_workdays(date(2030, 12, 31), 1) == date(2031, 1, 3)


def test_regulator_file_rejects_dates_filed_under_the_wrong_year(tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps({"2031": {"holidays": ["2032-01-01"]}}))
    with pytest.raises(ValueError, match="another year"):
        WorkdayCalendar.from_file(path)


def test_negative_days_are_refused():
    with pytest.raises(ValueError, match="negative"):
        cal.add_workdays(date(2025, 1, 1), -1)


def test_today_is_taken_in_shanghai():
    # 20:00 UTC on 30 September is already 1 October in Shanghai.
    assert today_shanghai(datetime(2025, 9, 30, 20, 0, tzinfo=UTC)) == date(2025, 10, 1)
