"""Calendar arithmetic of the rules (credit.rules.dates): month windows, cut-offs and working days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit.rules.dates import add_months, counts_on, cutoff, window_end

D = date.fromisoformat


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2024-01-15", 1, "2024-02-15"),
        ("2024-01-31", 1, "2024-02-29"),  # leap year: the month's last day
        ("2023-01-31", 1, "2023-02-28"),  # non-leap year
        ("2024-08-31", 6, "2025-02-28"),  # the docstring's example
        ("2024-02-29", 12, "2025-02-28"),  # Feb 29 has no twin next year
        ("2024-02-29", 48, "2028-02-29"),  # … but has one four years on
        ("2024-02-29", 1, "2024-03-29"),
        ("2024-03-31", 1, "2024-04-30"),
        ("2024-05-31", -1, "2024-04-30"),
        ("2024-03-31", -1, "2024-02-29"),
        ("2023-03-31", -1, "2023-02-28"),
        ("2024-02-29", -12, "2023-02-28"),
        ("2024-11-15", 2, "2025-01-15"),  # year wrap forwards
        ("2024-12-31", 1, "2025-01-31"),
        ("2025-01-31", -1, "2024-12-31"),  # year wrap backwards
        ("2025-01-15", -13, "2023-12-15"),
        ("2024-11-01", 24, "2026-11-01"),
        ("2024-06-30", 0, "2024-06-30"),
        ("2026-10-31", -24, "2024-10-31"),
    ],
)
def test_add_months(day: str, months: int, expected: str):
    assert add_months(D(day), months) == D(expected)


def test_spec_example_window():
    """SPEC §2: an event of 2024-11-01 with a 24-month window counts on 2026-10-31, not on 2026-11-01."""
    occurred = D("2024-11-01")
    assert window_end(occurred, 24) == D("2026-11-01")
    assert counts_on(occurred, 24, D("2026-10-31"))
    assert not counts_on(occurred, 24, D("2026-11-01"))
    assert cutoff(D("2026-10-31"), 24) < occurred
    assert cutoff(D("2026-11-01"), 24) == occurred


@pytest.mark.parametrize(
    ("occurred_on", "months", "as_of", "counts"),
    [
        ("2024-11-01", 24, "2024-10-31", False),  # not yet
        ("2024-11-01", 24, "2024-11-01", True),  # from its own day
        ("2024-01-31", 1, "2024-02-28", True),
        ("2024-01-31", 1, "2024-02-29", False),  # the window ends on the clamped day
        ("2023-01-29", 1, "2023-02-27", True),
        ("2023-01-29", 1, "2023-02-28", False),  # 29, 30 and 31 January all end on 28 February
        ("2023-01-31", 1, "2023-02-28", False),
    ],
)
def test_counts_on(occurred_on: str, months: int, as_of: str, counts: bool):
    assert counts_on(D(occurred_on), months, D(as_of)) is counts


@pytest.mark.parametrize(
    ("as_of", "months", "expected"),
    [
        ("2026-10-31", 24, "2024-10-31"),
        ("2023-02-28", 1, "2023-01-31"),  # 29–31 January all stop counting on 28 February
        ("2024-02-29", 1, "2024-01-31"),
        ("2024-02-28", 1, "2024-01-28"),
        ("2025-02-28", 12, "2024-02-29"),
        ("2025-03-01", 12, "2024-03-01"),
    ],
)
def test_cutoff_examples(as_of: str, months: int, expected: str):
    assert cutoff(D(as_of), months) == D(expected)


days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


@given(as_of=days, months=st.integers(min_value=1, max_value=120), offset=st.integers(min_value=-4000, max_value=5))
def test_cutoff_agrees_with_counts_on(as_of: date, months: int, offset: int):
    """The single comparison cutoff < occurred_on <= as_of is the same as counts_on, for any day."""
    occurred = as_of + timedelta(days=offset)
    assert (cutoff(as_of, months) < occurred <= as_of) is counts_on(occurred, months, as_of)


@given(as_of=days, months=st.integers(min_value=1, max_value=120))
def test_cutoff_is_the_last_day_that_no_longer_counts(as_of: date, months: int):
    cut = cutoff(as_of, months)
    assert not counts_on(cut, months, as_of)
    assert counts_on(cut + timedelta(days=1), months, as_of)


@given(day=days, months=st.integers(min_value=-240, max_value=240))
def test_add_months_keeps_the_day_or_clamps(day: date, months: int):
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day == day.day or (result.day < day.day and (result + timedelta(days=1)).day == 1)
