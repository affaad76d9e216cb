"""Supervision statistics (监管统计): the figures of the leadership dashboard, `flask credit stats` and the
public /statistics page — spot-check pass rates against the target, firms by grade and its trend, red and
black counts over time, 首席质量官 coverage, and the 红黄牌警示 of regions and industries.

Every figure is an aggregate computed in SQL (GROUP BY, conditional sums); Python only arranges the few
grouped rows. Targets and thresholds come from the rule set's `[statistics]` section. Only effective
events count: pending, rejected and revoked records never enter a rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, case, extract, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from credit.models import CreditEvent, EventStatus, Firm, Listing, ListKind
from credit.rules.dates import add_months, cutoff
from credit.rules.ruleset import RuleSet, StatisticsRules
from credit.services.grade_history import GRADES, grade_counts_on_days
from credit.services.publications.snapshots import in_force_on

event = CreditEvent.__table__  # type: ignore[attr-defined]
firm = Firm.__table__  # type: ignore[attr-defined]

DIMENSIONS = ("region", "industry")


class StatisticsError(ValueError):
    """A question the statistics cannot answer (a future date, a year after the date asked for)."""


@dataclass(frozen=True)
class Rate:
    """Spot checks of one group: how many, how many passed; the rate is None without checks."""

    key: str
    checks: int
    passed: int

    @property
    def failed(self) -> int:
        return self.checks - self.passed

    @property
    def rate(self) -> float | None:
        return self.passed / self.checks if self.checks else None

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.checks if self.checks else None


def _dimension(name: str):
    """The grouping column of a dimension: the firm's 镇街, or its industry's 门类 letter."""
    if name == "region":
        return firm.c.region
    if name == "industry":
        return func.substr(firm.c.industry, 1, 1)
    raise StatisticsError(f"未知的统计维度:{name}")


def _checks(rules: StatisticsRules, since: date | None, until: date):
    """The WHERE of 'an effective spot check from `since` (exclusive) to `until` (inclusive)'."""
    where = [
        event.c.status == EventStatus.effective.value,
        event.c.event_type.in_([*rules.pass_types, *rules.fail_types]),
        event.c.occurred_on <= until,
    ]
    if since is not None:
        where.append(event.c.occurred_on > since)
    return where


def _passed(rules: StatisticsRules):
    return func.coalesce(func.sum(case((event.c.event_type.in_(rules.pass_types), 1), else_=0)), 0)


def check_rates(
    session: Session, rules: StatisticsRules, *, since: date | None, until: date, by: str | None = None
) -> list[Rate]:
    """Spot checks in (since, until], for the city (by None: one Rate with key "") or grouped by a
    dimension (ordered by key), in one grouped statement."""
    where = _checks(rules, since, until)
    if by is None:
        checks, passed = session.execute(sa_select(func.count(), _passed(rules)).where(*where)).one()
        return [Rate("", checks, passed)]
    key = _dimension(by).label("key")
    rows = session.execute(
        sa_select(key, func.count(), _passed(rules))
        .select_from(event.join(firm, firm.c.id == event.c.firm_id))
        .where(*where)
        .group_by(key)
        .order_by(key)
    ).all()
    return [Rate(k, c, p) for k, c, p in rows]


def year_bounds(year: int, as_of: date) -> tuple[date, date]:
    """A calendar year as (the day before it starts, its last day counted): up to `as_of` at most."""
    return date(year - 1, 12, 31), min(date(year, 12, 31), as_of)


def rates_by_year(session: Session, rules: StatisticsRules, *, year: int, as_of: date) -> list[Rate]:
    """The city's pass rate per calendar year, the `trend_years` years ending with `year`, in one
    grouped statement (key: the year)."""
    first = year - rules.trend_years + 1
    key = extract("year", event.c.occurred_on).label("year")
    rows = session.execute(
        sa_select(key, func.count(), _passed(rules))
        .where(*_checks(rules, date(first - 1, 12, 31), year_bounds(year, as_of)[1]))
        .group_by(key)
    ).all()
    found = {int(y): (c, p) for y, c, p in rows}
    return [Rate(str(y), *found.get(y, (0, 0))) for y in range(first, year + 1)]


def month_ends(as_of: date, months: int) -> list[date]:
    """The last day of each of the `months` months ending with as_of's month; that month's is as_of."""
    days = []
    for back in range(months - 1, 0, -1):
        start_next = add_months(as_of.replace(day=1), -back + 1)
        days.append(start_next - timedelta(days=1))
    return [*days, as_of]


def list_counts_on(session: Session, day: date) -> dict[str, int]:
    """Red and black listings in force on `day`, judged by their dates (as a publication would list them)."""
    rows = session.exec(select(Listing.kind, func.count()).where(in_force_on(day)).group_by(Listing.kind)).all()
    found = dict.fromkeys((ListKind.red.value, ListKind.black.value), 0)
    found.update({kind: n for kind, n in rows})  # noqa: C416
    return found


# --- 首席质量官 -----------------------------------------------------------------------------------------


def _cqo_types(rules: RuleSet) -> tuple[str, str]:
    starts = [r.event_type for r in rules.points.values() if r.state == "start"]
    ends = [r.event_type for r in rules.points.values() if r.state == "end"]
    if not starts or not ends:
        raise StatisticsError("规则集没有首席质量官任命/离任事件")
    return starts[0], ends[0]


def _latest_cqo_events(rules: RuleSet, as_of: date):
    """Each firm's latest effective appointment or departure on or before as_of (by date, then id, as the
    evaluator orders the state pair): a subquery with one row per firm."""
    start, end = _cqo_types(rules)
    ranked = (
        sa_select(
            event.c.firm_id,
            event.c.id,
            event.c.event_type,
            event.c.person_name,
            event.c.certificate_no,
            event.c.occurred_on,
            func.row_number()
            .over(partition_by=event.c.firm_id, order_by=(event.c.occurred_on.desc(), event.c.id.desc()))
            .label("rn"),
        )
        .where(
            event.c.status == EventStatus.effective.value,
            event.c.event_type.in_([start, end]),
            event.c.occurred_on <= as_of,
        )
        .subquery("ranked")
    )
    return ranked, start


def _in_post(rules: RuleSet, as_of: date):
    ranked, start = _latest_cqo_events(rules, as_of)
    return ranked, and_(ranked.c.rn == 1, ranked.c.event_type == start)


@dataclass(frozen=True)
class CqoSummary:
    """首席质量官 coverage on a day: firms with one in post, and the share of firms of the target's scale."""

    with_cqo: int
    scale: str
    scale_firms: int
    scale_with_cqo: int
    target: float

    @property
    def coverage(self) -> float | None:
        return self.scale_with_cqo / self.scale_firms if self.scale_firms else None


def cqo_summary(session: Session, rules: RuleSet, as_of: date) -> CqoSummary:
    """How many firms have a 首席质量官 in post on `as_of`, and how many of the target's scale (two
    grouped statements)."""
    ranked, holds = _in_post(rules, as_of)
    scale = rules.statistics.cqo_scale
    with_cqo, scale_with = session.execute(
        sa_select(func.count(), func.coalesce(func.sum(case((firm.c.scale == scale, 1), else_=0)), 0))
        .select_from(ranked.join(firm, firm.c.id == ranked.c.firm_id))
        .where(holds)
    ).one()
    scale_firms = session.execute(sa_select(func.count()).where(firm.c.scale == scale)).scalar_one()
    return CqoSummary(with_cqo, scale, scale_firms, scale_with, rules.statistics.cqo_target)


@dataclass(frozen=True)
class CqoRow:
    uscc: str
    name: str
    region: str
    scale: str
    person_name: str = ""
    certificate_no: str = ""
    since: date | None = None
    event_id: int | None = None


def current_cqos(session: Session, rules: RuleSet, as_of: date, *, offset: int = 0, limit: int = 50) -> list[CqoRow]:
    """The 首席质量官 in post on `as_of`, a page of them, by firm: name, certificate and since when."""
    ranked, holds = _in_post(rules, as_of)
    rows = session.execute(
        sa_select(
            firm.c.uscc,
            firm.c.name,
            firm.c.region,
            firm.c.scale,
            ranked.c.person_name,
            ranked.c.certificate_no,
            ranked.c.occurred_on,
            ranked.c.id,
        )
        .select_from(ranked.join(firm, firm.c.id == ranked.c.firm_id))
        .where(holds)
        .order_by(firm.c.uscc)
        .offset(offset)
        .limit(limit)
    ).all()
    return [CqoRow(*row) for row in rows]


def firms_without_cqo(
    session: Session, rules: RuleSet, as_of: date, *, offset: int = 0, limit: int = 50
) -> list[CqoRow]:
    """Firms of the target's scale (规上) with no 首席质量官 in post on `as_of`, a page of them by USCC."""
    ranked, holds = _in_post(rules, as_of)
    in_post = sa_select(ranked.c.firm_id).where(holds)
    rows = session.execute(
        sa_select(firm.c.uscc, firm.c.name, firm.c.region, firm.c.scale)
        .where(firm.c.scale == rules.statistics.cqo_scale, firm.c.id.not_in(in_post))
        .order_by(firm.c.uscc)
        .offset(offset)
        .limit(limit)
    ).all()
    return [CqoRow(*row) for row in rows]


def cqo_history(session: Session, rules: RuleSet, firm_id: int) -> list[CreditEvent]:
    """A firm's appointments and departures of 首席质量官, effective ones, in time order."""
    start, end = _cqo_types(rules)
    return list(
        session.exec(
            select(CreditEvent)
            .where(
                CreditEvent.firm_id == firm_id,
                col(CreditEvent.event_type).in_([start, end]),
                CreditEvent.status == EventStatus.effective,
            )
            .order_by(col(CreditEvent.occurred_on), col(CreditEvent.id))
        ).all()
    )


# --- 红黄牌警示 -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Warning:
    """A region or industry whose failure rate in the window is far above the city's."""

    dimension: str  # region | industry
    key: str
    level: str  # yellow | red
    checks: int
    failed: int
    rate: float  # its failure rate
    city_rate: float
    since: date | None = None  # the first month-end step of the unbroken run of warnings up to as_of


def warning_level(group: Rate, city: Rate, rules: StatisticsRules) -> str | None:
    """red, yellow or None: the group's failure rate against the city's, with enough checks. A city with
    no failures warns no one (every ratio to zero is undefined)."""
    if group.checks < rules.warning_min_checks or not city.failure_rate or group.failure_rate is None:
        return None
    ratio = group.failure_rate / city.failure_rate
    if ratio >= rules.red_ratio:
        return "red"
    if ratio >= rules.yellow_ratio:
        return "yellow"
    return None


def warning_window(rules: StatisticsRules, as_of: date) -> tuple[date, date]:
    """The last `warning_months` months up to as_of, as (exclusive start, inclusive end): the window an
    event with that many months counts in (credit.rules.dates.cutoff)."""
    return cutoff(as_of, rules.warning_months), as_of


def warnings_on(session: Session, rules: StatisticsRules, as_of: date) -> list[Warning]:
    """Every region and industry under a warning on `as_of`, red first, then by rate."""
    since, until = warning_window(rules, as_of)
    city = check_rates(session, rules, since=since, until=until)[0]
    found = []
    for dimension in DIMENSIONS:
        for group in check_rates(session, rules, since=since, until=until, by=dimension):
            level = warning_level(group, city, rules)
            if level:
                found.append(
                    Warning(
                        dimension,
                        group.key,
                        level,
                        group.checks,
                        group.failed,
                        group.failure_rate or 0.0,
                        city.failure_rate or 0.0,
                    )
                )
    return sorted(found, key=lambda w: (w.level != "red", -w.rate, w.dimension, w.key))


def warning_since(session: Session, rules: StatisticsRules, dimension: str, key: str, as_of: date) -> date | None:
    """When the warning of this group started: stepping back a month at a time from as_of (up to
    `trend_months` steps), the earliest step of the unbroken run of steps under a warning of any level.
    None if it is not under a warning on as_of. One grouped statement per step."""
    column = _dimension(dimension)
    started = None
    for back in range(rules.trend_months):
        day = add_months(as_of, -back)
        since, until = warning_window(rules, day)
        in_group = case((column == key, 1), else_=0)
        failed = case((event.c.event_type.in_(rules.fail_types), 1), else_=0)
        checks, fails, group_checks, group_fails = session.execute(
            sa_select(
                func.count(),
                func.coalesce(func.sum(failed), 0),
                func.coalesce(func.sum(in_group), 0),
                func.coalesce(func.sum(in_group * failed), 0),
            )
            .select_from(event.join(firm, firm.c.id == event.c.firm_id))
            .where(*_checks(rules, since, until))
        ).one()
        city = Rate("", checks, checks - fails)
        group = Rate(key, group_checks, group_checks - group_fails)
        if warning_level(group, city, rules) is None:
            break
        started = day
    return started


@dataclass(frozen=True)
class FailureRow:
    event_id: int
    occurred_on: date
    document_no: str
    product: str
    severity: str | None
    uscc: str
    name: str


def warning_failures(
    session: Session,
    rules: StatisticsRules,
    dimension: str,
    key: str,
    as_of: date,
    *,
    offset: int = 0,
    limit: int = 50,
) -> list[FailureRow]:
    """The failed spot checks behind a group's figure (its window up to as_of), newest first, a page."""
    since, until = warning_window(rules, as_of)
    rows = session.execute(
        sa_select(
            event.c.id,
            event.c.occurred_on,
            event.c.document_no,
            event.c.product,
            event.c.severity,
            firm.c.uscc,
            firm.c.name,
        )
        .select_from(event.join(firm, firm.c.id == event.c.firm_id))
        .where(*_checks(rules, since, until), event.c.event_type.in_(rules.fail_types), _dimension(dimension) == key)
        .order_by(event.c.occurred_on.desc(), event.c.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [FailureRow(*row) for row in rows]


# --- the whole picture ----------------------------------------------------------------------------------


@dataclass
class CityStatistics:
    """Every figure of the dashboard for one year and one date."""

    year: int
    as_of: date
    rules: StatisticsRules
    city: Rate
    by_region: list[Rate]
    by_industry: list[Rate]
    by_year: list[Rate]
    grades: dict[str, int]
    grade_trend: dict[date, dict[str, int]]
    lists: dict[str, int]
    list_trend: dict[date, dict[str, int]]
    cqo: CqoSummary
    warnings: list[Warning] = field(default_factory=list)


def resolve_period(year: int | None, as_of: date | None, today: date) -> tuple[int, date]:
    """The year and date a question is about: a date after today is refused; a past year without a date
    is answered as of its last day; a year after the date's is refused."""
    if as_of is not None and as_of > today:
        raise StatisticsError(f"统计日 {as_of} 晚于今天 {today}:不能统计未来")
    if year is not None and not 1990 <= year <= 9999:
        raise StatisticsError(f"年度 {year} 无效")
    if as_of is None:
        as_of = today if year is None or year >= today.year else date(year, 12, 31)
    year = as_of.year if year is None else year
    if year > as_of.year:
        raise StatisticsError(f"年度 {year} 晚于统计日 {as_of}")
    return year, as_of


def city_statistics(session: Session, rules: RuleSet, *, year: int, as_of: date) -> CityStatistics:
    """Every figure for `year` (pass rates) and `as_of` (grades, lists, 首席质量官, warnings), each an
    aggregate in SQL."""
    stats = rules.statistics
    since, until = year_bounds(year, as_of)
    days = month_ends(as_of, stats.trend_months)
    grade_trend = grade_counts_on_days(session, days)
    return CityStatistics(
        year=year,
        as_of=as_of,
        rules=stats,
        city=check_rates(session, stats, since=since, until=until)[0],
        by_region=check_rates(session, stats, since=since, until=until, by="region"),
        by_industry=check_rates(session, stats, since=since, until=until, by="industry"),
        by_year=rates_by_year(session, stats, year=year, as_of=as_of),
        grades=grade_trend[as_of],
        grade_trend=grade_trend,
        lists=list_counts_on(session, as_of),
        list_trend={day: list_counts_on(session, day) for day in days},
        cqo=cqo_summary(session, rules, as_of),
        warnings=warnings_on(session, stats, as_of),
    )


def _rate_json(rate: Rate) -> dict:
    return {"checks": rate.checks, "passed": rate.passed, "rate": None if rate.rate is None else round(rate.rate, 4)}


def statistics_json(stats: CityStatistics) -> dict:
    """The `flask credit stats --json` document (SPEC §4)."""
    cqo = stats.cqo
    return {
        "year": stats.year,
        "as_of": stats.as_of.isoformat(),
        "pass_rate": {
            **_rate_json(stats.city),
            "target": stats.rules.pass_rate_target,
            "by_region": {r.key: _rate_json(r) for r in stats.by_region},
            "by_industry": {r.key: _rate_json(r) for r in stats.by_industry},
        },
        "grades": {g: stats.grades.get(g, 0) for g in GRADES},
        "red": stats.lists["red"],
        "black": stats.lists["black"],
        "cqo": {
            "firms": cqo.with_cqo,
            "scale": cqo.scale,
            "scale_firms": cqo.scale_firms,
            "scale_with_cqo": cqo.scale_with_cqo,
            "coverage": None if cqo.coverage is None else round(cqo.coverage, 4),
            "target": cqo.target,
        },
        "warnings": [
            {
                w.dimension: w.key,
                "level": w.level,
                "rate": round(w.rate, 4),
                "city_rate": round(w.city_rate, 4),
                "checks": w.checks,
                "failed": w.failed,
            }
            for w in stats.warnings
        ],
    }
