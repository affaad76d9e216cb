"""The official working-day calendar as rules: holidays and make-up working days per year, periods counted
in working days from the day after service, and fail-closed when a year has no calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit.rules.calendar import CalendarError, CalendarMissing, WorkingCalendar, year_calendar
from credit.services.calendar import package_years

D = date.fromisoformat


def official() -> WorkingCalendar:
    """Every year the chinesecalendar package covers (the State Council's notices, 2004–2026)."""
    return WorkingCalendar({y: year_calendar(y, h, w) for y, (h, w) in package_years().items()})


CALENDAR = official()


@pytest.mark.parametrize(
    ("served", "expected", "why"),
    [
        # SPEC / issue 9: 国庆 2025 (Oct 1–8 off) with the 调休 working Sunday 9-28 and Saturday 10-11
        ("2025-09-26", "2025-10-16", "国庆中秋 2025: 9-28 and 10-11 are working days, 10-1..10-8 are not"),
        # 春节 2026: Feb 15–23 off, the Saturdays 2-14 and 2-28 are working days
        ("2026-02-06", "2026-02-27", "春节 2026"),
        ("2026-03-02", "2026-03-16", "an ordinary fortnight"),
        ("2026-03-06", "2026-03-20", "served on a Friday: Saturday and Sunday do not count"),
        ("2026-03-07", "2026-03-20", "served on a Saturday: counting starts on Monday"),
        ("2026-09-30", "2026-10-20", "国庆 2026 (10-1..10-7 off, Saturday 10-10 at work)"),
        ("2026-10-19", "2026-11-02", "the test suite's NOTICE_DAY"),
        ("2025-12-19", "2026-01-05", "over New Year 2026 (1-1..1-3 off, Sunday 1-4 at work)"),
    ],
)
def test_ten_working_days_after_service_on_the_official_calendar(served, expected, why):
    assert CALENDAR.add_working_days(D(served), 10) == D(expected), why


def test_the_weekend_only_count_the_issue_found_wrong_is_not_what_we_give():
    assert CALENDAR.add_working_days(D("2025-09-26"), 10) != D("2025-10-10")
    assert CALENDAR.add_working_days(D("2026-02-06"), 10) != D("2026-02-20")


def test_make_up_days_and_holidays():
    assert CALENDAR.is_working_day(D("2025-09-28"))  # a Sunday at work (调休)
    assert not CALENDAR.is_working_day(D("2025-10-01"))  # 国庆
    assert not CALENDAR.is_working_day(D("2025-10-08"))  # a Wednesday off
    assert not CALENDAR.is_working_day(D("2026-03-07"))  # an ordinary Saturday
    assert CALENDAR.is_working_day(D("2026-03-09"))  # an ordinary Monday


def test_a_period_into_a_year_without_a_calendar_is_not_computed():
    with pytest.raises(CalendarMissing) as missing:
        CALENDAR.add_working_days(D("2026-12-22"), 10)
    assert missing.value.year == 2027
    assert "2027" in str(missing.value)
    # a period that ends before the new year needs nothing of it
    assert CALENDAR.add_working_days(D("2026-12-01"), 10) == D("2026-12-15")
    with pytest.raises(CalendarMissing):
        CALENDAR.is_working_day(D("2027-01-04"))


def test_zero_days_is_the_day_itself():
    assert CALENDAR.add_working_days(D("2026-03-07"), 0) == D("2026-03-07")


@given(
    start=st.dates(min_value=date(2005, 1, 1), max_value=date(2026, 11, 1)),
    days=st.integers(min_value=1, max_value=20),
)
def test_the_deadline_is_a_working_day_with_exactly_n_working_days_after_service(start, days):
    end = CALENDAR.add_working_days(start, days)
    assert CALENDAR.is_working_day(end)
    assert CALENDAR.working_days_between(start, end) == days
    assert CALENDAR.working_days_between(start, end - timedelta(days=1)) == days - 1


@pytest.mark.parametrize(
    ("holidays", "workdays", "message"),
    [
        (["2027-02-30"], [], "不是 YYYY-MM-DD"),
        (["2026-12-31"], [], "不在 2027 年内"),
        ([], ["2027-02-08"], "周一至周五"),  # a Monday as a make-up day
        (["2027-02-06"], ["2027-02-06"], "既是节假日又是调休上班日"),
    ],
)
def test_a_bad_year_is_refused_naming_the_date(holidays, workdays, message):
    with pytest.raises(CalendarError, match=message):
        year_calendar(2027, holidays, workdays)


def test_the_package_covers_2004_to_2026():
    assert min(CALENDAR.years) == 2004 and max(CALENDAR.years) == 2026
    assert all(CALENDAR.covers(y) for y in range(2004, 2027))
