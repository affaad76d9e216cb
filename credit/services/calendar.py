"""The official working-day calendar as data: load a year (from the `chinesecalendar` package for the years
it covers, or from the State Council's notice entered by an admin), show it, warn before a year without
one begins, and keep the objection deadlines of undecided proposals in step with it.

Versions: loading a year that differs from the one in force saves a new version; the old one stays
(the database refuses to change or delete a version). Loading the same lists again changes nothing."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, func, select

from credit.models import CalendarYear, Listing, ListingStatus, ListKind
from credit.rules.calendar import CalendarError, WorkingCalendar, YearCalendar, year_calendar
from credit.rules.listings import objection_deadline

PACKAGE = "chinesecalendar"


def working_calendar(session: Session) -> WorkingCalendar:
    """Every loaded year, each at its newest version."""
    newest = (
        select(CalendarYear.year, func.max(CalendarYear.version).label("version"))
        .group_by(CalendarYear.year)
        .subquery()
    )
    rows = session.exec(
        select(CalendarYear).join(
            newest, (col(CalendarYear.year) == newest.c.year) & (col(CalendarYear.version) == newest.c.version)
        )
    ).all()
    return WorkingCalendar({row.year: _as_rules(row) for row in rows})


def _as_rules(row: CalendarYear) -> YearCalendar:
    return year_calendar(row.year, row.holidays, row.workdays, version=row.version, source=row.source)


def year_versions(session: Session, year: int) -> list[CalendarYear]:
    """Every version of a year, newest first."""
    return list(
        session.exec(select(CalendarYear).where(CalendarYear.year == year).order_by(col(CalendarYear.version).desc()))
    )


def loaded_years(session: Session) -> list[tuple[int, int, str]]:
    """(year, newest version, its source) for every loaded year, newest year first."""
    calendar = working_calendar(session)
    return [(y.year, y.version, y.source) for y in sorted(calendar.years.values(), key=lambda y: -y.year)]


@dataclass(frozen=True)
class Loaded:
    """What loading a year did: the version in force and whether this load created it."""

    row: CalendarYear
    created: bool
    deadlines_changed: int = 0


def load_year(
    session: Session,
    *,
    year: int,
    holidays: list,
    workdays: list,
    source: str,
    created_by: str,
    note: str = "",
) -> Loaded:
    """Save a year's calendar (checked: dates inside the year, make-up days on weekends, no day in both
    lists) as a new version, unless the version in force has the same lists. Then recompute the deadlines
    of undecided proposals, which may now be computable or may change."""
    source = " ".join(str(source or "").split())
    if not source:
        raise CalendarError("须注明来源(如国务院办公厅通知的文号)")
    if len(source) > 300:
        raise CalendarError("来源不能超过 300 个字")
    checked = year_calendar(int(year), holidays, workdays)
    current = year_versions(session, checked.year)
    if (
        current
        and _as_rules(current[0]).holidays == checked.holidays
        and _as_rules(current[0]).workdays == checked.workdays
    ):
        return Loaded(current[0], False)
    row = CalendarYear(
        year=checked.year,
        version=(current[0].version + 1) if current else 1,
        holidays=sorted(d.isoformat() for d in checked.holidays),
        workdays=sorted(d.isoformat() for d in checked.workdays),
        source=source,
        note=" ".join(str(note or "").split())[:1000],
        created_by=created_by[:120],
    )
    session.add(row)
    session.flush()
    return Loaded(row, True, recompute_deadlines(session))


def package_years() -> dict[int, tuple[list[date], list[date]]]:
    """The years the `chinesecalendar` package covers, with their holidays and make-up working days."""
    from chinese_calendar import constants

    years: dict[int, tuple[list[date], list[date]]] = {}
    for day in constants.holidays:
        years.setdefault(day.year, ([], []))[0].append(day)
    for day in constants.workdays:
        years.setdefault(day.year, ([], []))[1].append(day)
    return years


def package_source() -> str:
    from importlib.metadata import version

    return f"{PACKAGE} {version(PACKAGE)}(国务院办公厅历年节假日安排通知)"


def load_package_calendar(session: Session, *, created_by: str = "system") -> list[int]:
    """Load every year the package covers that is not loaded yet (idempotent; a year an admin entered is
    never replaced by the package). Returns the years loaded."""
    known = {year for year, *_ in loaded_years(session)}
    source = package_source()
    added = []
    for year, (holidays, workdays) in sorted(package_years().items()):
        if year in known:
            continue
        load_year(session, year=year, holidays=holidays, workdays=workdays, source=source, created_by=created_by)
        added.append(year)
    return added


def parse_calendar_file(text: str) -> list[dict]:
    """Year documents from a TOML or JSON file: one year (`year`, `source`, `holidays`, `workdays`, `note`)
    or several under `years`. Raises CalendarError with the reason."""
    stripped = text.lstrip("\ufeff").strip()
    try:
        document = json.loads(stripped) if stripped.startswith(("{", "[")) else tomllib.loads(stripped)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CalendarError(f"无法解析日历文件:{exc}") from None
    years = document if isinstance(document, list) else document.get("years", [document])
    if not isinstance(years, list) or not years:
        raise CalendarError("日历文件须含一个年份(year、source、holidays、workdays)或 years 列表")
    found = []
    for index, entry in enumerate(years):
        where = f"第 {index + 1} 个年份" if len(years) > 1 else "日历"
        if not isinstance(entry, dict):
            raise CalendarError(f"{where}须为对象")
        year = entry.get("year")
        if not isinstance(year, int) or isinstance(year, bool):
            raise CalendarError(f"{where}缺少整数 year")
        for key in ("holidays", "workdays"):
            if not isinstance(entry.get(key, []), list):
                raise CalendarError(f"{where}的 {key} 须为日期列表")
        found.append(
            {
                "year": year,
                "holidays": [str(d) for d in entry.get("holidays", [])],
                "workdays": [str(d) for d in entry.get("workdays", [])],
                "source": str(entry.get("source") or ""),
                "note": str(entry.get("note") or ""),
            }
        )
    return found


def recompute_deadlines(session: Session) -> int:
    """Bring the deadline of every served, undecided black proposal in line with the calendar in force and
    the rule set the proposal was made under; returns how many changed (each change is audited)."""
    from credit.services.due_process import rules_of

    calendar = working_calendar(session)
    changed = 0
    proposals = session.exec(
        select(Listing).where(
            Listing.kind == ListKind.black,
            Listing.status == ListingStatus.proposed,
            col(Listing.served_on).is_not(None),
        )
    ).all()
    for listing in proposals:
        deadline = objection_deadline(listing.served_on, rules_of(session, listing), calendar)  # type: ignore[arg-type]
        if deadline != listing.deadline:
            listing.deadline = deadline
            session.add(listing)
            changed += 1
    session.flush()
    return changed


@dataclass(frozen=True)
class CalendarWarning:
    """Something an admin must do about the calendar: `level` error (deadlines cannot be computed now)
    or warning (a year without a calendar is near)."""

    level: str
    code: str
    year: int
    message: str


def calendar_warnings(session: Session, *, today: date, warn_days: int) -> list[CalendarWarning]:
    """What the admin home page warns about: this year without a calendar, next year's missing within
    `warn_days` of the new year, and proposals whose deadline cannot be computed for lack of one."""
    calendar = working_calendar(session)
    warnings = []
    if not calendar.covers(today.year):
        warnings.append(
            CalendarWarning("error", "this_year", today.year, f"{today.year} 年的法定工作日历尚未载入,异议期无法计算")
        )
    following = today.year + 1
    days_left = (date(following, 1, 1) - today).days
    if not calendar.covers(following) and days_left <= warn_days:
        warnings.append(
            CalendarWarning(
                "warning",
                "next_year",
                following,
                f"{following} 年的法定工作日历尚未载入({days_left} 天后开始):国务院公布节假日安排后请尽快录入,"
                "否则跨年的异议期无法计算",
            )
        )
    blocked = session.exec(
        select(func.count())
        .select_from(Listing)
        .where(
            Listing.kind == ListKind.black,
            Listing.status == ListingStatus.proposed,
            col(Listing.served_on).is_not(None),
            col(Listing.deadline).is_(None),
            col(Listing.waived).is_(False),
        )
    ).one()
    if blocked:
        warnings.append(
            CalendarWarning(
                "error", "blocked", following, f"{blocked} 件已送达的拟列入因缺少工作日历而无法计算异议期、无法决定"
            )
        )
    return warnings
