"""The bureau's calendar: "today" is a date in China Standard Time, whatever the server's zone.

Time is an input. Every "today" and every timestamp in the system comes from here, so a test (or a
training copy of the system) can set the date: `set_today(day)` in-process, or the environment variable
`CREDIT_TODAY=YYYY-MM-DD` for a whole process. A fixed date is logged at start-up and shown on staff
pages; production never sets it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

BUREAU_TZ = ZoneInfo("Asia/Shanghai")
ENV_VAR = "CREDIT_TODAY"

# The earliest date any entry point accepts: no credit record of this system predates 1990 (the first
# product-quality spot checks under the 1993 Product Quality Law come later still).
EARLIEST = date(1990, 1, 1)


_HALF_DAY = 12 * 3600.0


class _Fixed:
    """A fixed date whose clock still runs: now() starts at noon of that day and advances with real
    (monotonic) time until the day's end, so timestamps stay ordered and rate windows still pass."""

    __slots__ = ("day", "started")

    def __init__(self, day: date) -> None:
        self.day = day
        self.started = time.monotonic()

    def now(self) -> datetime:
        noon = datetime.combine(self.day, clock_time(12), BUREAU_TZ)
        elapsed = min(time.monotonic() - self.started, _HALF_DAY - 1e-3)  # the date itself never moves
        return (noon + timedelta(seconds=elapsed)).astimezone(UTC)


def _from_environment() -> _Fixed | None:
    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        return None
    return _Fixed(parse_iso_date(value, field=ENV_VAR))


def parse_iso_date(value: object, *, field: str = "日期") -> date:
    """A date written as ISO YYYY-MM-DD (or already a date); anything else is refused with a reason."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(f"{field}须为 YYYY-MM-DD 格式,实为「{text}」")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}「{text}」不是有效日期") from None


_fixed: _Fixed | None = _from_environment()


def today() -> date:
    """Today's date in the bureau's time zone (the fixed date when one is set)."""
    if _fixed is not None:
        return _fixed.day
    return datetime.now(BUREAU_TZ).date()


def now() -> datetime:
    """Now, time-zone aware (UTC): on the fixed date when one is set."""
    if _fixed is not None:
        return _fixed.now()
    return datetime.now(UTC)


def fixed_today() -> date | None:
    """The fixed date, if one is set (shown on staff pages so nobody mistakes a training copy)."""
    return _fixed.day if _fixed is not None else None


def set_today(day: date | str | None) -> None:
    """Fix today's date for this process (None: back to the real clock)."""
    global _fixed
    _fixed = None if day is None else _Fixed(parse_iso_date(day))


@contextmanager
def today_is(day: date | str) -> Iterator[date]:
    """`with today_is("2026-12-01"):` — a fixed date for a block, then the previous clock again."""
    global _fixed
    previous = _fixed
    set_today(day)
    try:
        yield today()
    finally:
        _fixed = previous


class FutureDate(ValueError):
    """A date after today, or before the earliest date the system knows: nothing may act on it."""


def check_not_future(day: date, *, field: str = "日期") -> date:
    """`day` itself when it is neither after today (Beijing time) nor before 1990; FutureDate otherwise.

    SPEC §2 (Time): no command, job, page or API acts on a date after today."""
    current = today()
    if day > current:
        raise FutureDate(f"{field} {day.isoformat()} 晚于今天({current.isoformat()}),不能对未来的日期操作")
    if day < EARLIEST:
        raise FutureDate(f"{field} {day.isoformat()} 早于 {EARLIEST.isoformat()},不在本系统的时间范围内")
    return day


def parse_past_date(value: object, *, field: str = "日期") -> date:
    """An ISO date that is not after today nor before 1990; ValueError with a reason otherwise."""
    return check_not_future(parse_iso_date(value, field=field), field=field)
