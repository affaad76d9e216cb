"""Calendar arithmetic of the rules: month windows. (Working-day periods: credit.rules.calendar.)"""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    """The same calendar day `months` later (earlier when negative); the month's last day when that day
    does not exist (2024-08-31 + 6 months = 2025-02-28)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def window_end(occurred_on: date, months: int) -> date:
    """The first day an event of `occurred_on` no longer counts (SPEC §2: up to, not including, the same
    calendar day N months later)."""
    return add_months(occurred_on, months)


def counts_on(occurred_on: date, months: int, as_of: date) -> bool:
    """Whether an event with an N-month window counts on `as_of`."""
    return occurred_on <= as_of < window_end(occurred_on, months)


def cutoff(as_of: date, months: int) -> date:
    """The latest date d with window_end(d, months) <= as_of: an event counts on `as_of` exactly when
    cutoff < occurred_on <= as_of. This turns every window into one comparison for set-based SQL."""
    day = add_months(as_of, -months) + timedelta(days=3)
    while window_end(day, months) > as_of:
        day -= timedelta(days=1)
    return day
