"""The official working-day calendar (法定工作日): which days count when a period is given in working days.

A day is a working day when it is Monday to Friday and not a statutory holiday, or when it is a make-up
working day (调休上班, a weekend day the State Council declares a working day). The holidays and make-up
days are data, published yearly by the State Council and loaded per year (credit.services.calendar).

Fail closed: a period that runs into a year whose calendar is not loaded is not computed
(`CalendarMissing`) — counting weekends only there would give a firm fewer days than the law allows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta


class CalendarError(ValueError):
    """A calendar document that cannot be used; the message names the date or field at fault."""


class CalendarMissing(LookupError):
    """A working-day count needs a year whose calendar is not loaded."""

    def __init__(self, year: int) -> None:
        super().__init__(f"{year} 年的法定工作日历尚未载入,期限无法计算")
        self.year = year


@dataclass(frozen=True)
class YearCalendar:
    """One year's statutory holidays and make-up working days, as published."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]  # weekend days that are working days (调休上班)
    version: int = 0
    source: str = ""

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def year_calendar(
    year: int, holidays: Iterable[date | str], workdays: Iterable[date | str], *, version: int = 0, source: str = ""
) -> YearCalendar:
    """Check one year's lists and build its calendar: every date inside the year, make-up working days on a
    weekend, no day both a holiday and a working day. Raises CalendarError naming the first problem."""
    if not 1990 <= year <= 9998:
        raise CalendarError(f"年份 {year} 无效")

    def dates(values: Iterable[date | str], what: str) -> frozenset[date]:
        found = set()
        for value in values:
            try:
                day = value if isinstance(value, date) else date.fromisoformat(str(value).strip())
            except ValueError:
                raise CalendarError(f"{what}「{value}」不是 YYYY-MM-DD 格式的有效日期") from None
            if day.year != year:
                raise CalendarError(f"{what} {day.isoformat()} 不在 {year} 年内")
            found.add(day)
        return frozenset(found)

    off = dates(holidays, "节假日")
    on = dates(workdays, "调休上班日")
    weekday = sorted(d for d in on if d.weekday() < 5)
    if weekday:
        raise CalendarError(f"调休上班日 {weekday[0].isoformat()} 是周一至周五,本来就是工作日")
    both = sorted(off & on)
    if both:
        raise CalendarError(f"{both[0].isoformat()} 不能既是节假日又是调休上班日")
    return YearCalendar(year, off, on, version, source)


@dataclass(frozen=True)
class WorkingCalendar:
    """The loaded years. Asking about a day of a year that is not loaded raises CalendarMissing."""

    years: Mapping[int, YearCalendar] = field(default_factory=dict)

    def covers(self, year: int) -> bool:
        return year in self.years

    def is_working_day(self, day: date) -> bool:
        year = self.years.get(day.year)
        if year is None:
            raise CalendarMissing(day.year)
        return year.is_working_day(day)

    def add_working_days(self, start: date, days: int) -> date:
        """The day on which a period of `days` working days that starts the day after `start` ends.

        The day of service itself does not count (《行政处罚法》/《民事诉讼法》: 期间开始的日不计算在期间内);
        the period ends on its last working day. Raises CalendarMissing when a day to count falls in a
        year without a calendar."""
        current = start
        left = days
        while left > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                left -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count
