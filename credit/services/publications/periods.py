"""Publication periods: monthly `YYYY-MM` and quarterly `YYYY-Qn`, their bounds, and which ended periods
still wait for a publication."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlmodel import Session, col, func, select

from credit.models import Listing, ListingStatus, Publication
from credit.rules.dates import add_months

MONTHLY = "monthly"
QUARTERLY = "quarterly"
PERIOD_KINDS = (MONTHLY, QUARTERLY)

_MONTHLY_RE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_QUARTERLY_RE = re.compile(r"([0-9]{4})-Q([1-4])")


class PublicationError(ValueError):
    """A publication that cannot be made: bad period, period not over, date outside the period…"""


# --- periods -------------------------------------------------------------------------------------


def period_kind(period: str) -> str:
    """`monthly` for `YYYY-MM`, `quarterly` for `YYYY-Qn`; anything else is refused with the rule."""
    if _MONTHLY_RE.fullmatch(period):
        return MONTHLY
    if _QUARTERLY_RE.fullmatch(period):
        return QUARTERLY
    raise PublicationError(f"期次「{period}」格式无效:须为 YYYY-MM(月度,如 2026-11)或 YYYY-Qn(季度,如 2026-Q4)")


def period_bounds(period: str) -> tuple[date, date]:
    """The first and the last day (both inclusive) of a `YYYY-MM` or `YYYY-Qn` period."""
    period = period.strip()
    if period_kind(period) == MONTHLY:
        year, month, months = int(period[:4]), int(period[5:7]), 1
    else:
        year, month, months = int(period[:4]), 3 * int(period[6]) - 2, 3
    if year < 1900:
        raise PublicationError(f"期次「{period}」的年份无效")
    start = date(year, month, 1)
    return start, add_months(start, months) - timedelta(days=1)


def period_of(day: date, kind: str) -> str:
    """The period of `kind` that contains `day`."""
    if kind == MONTHLY:
        return f"{day.year:04d}-{day.month:02d}"
    if kind == QUARTERLY:
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    raise PublicationError(f"发布周期须为 {' 或 '.join(PERIOD_KINDS)},实为「{kind}」")


def next_period(period: str) -> str:
    return period_of(period_bounds(period)[1] + timedelta(days=1), period_kind(period))


def last_ended_period(today: date, kind: str) -> str:
    """The newest period of `kind` that is over on `today` (the one before today's)."""
    return period_of(period_bounds(period_of(today, kind))[0] - timedelta(days=1), kind)


def periods_to_publish(session: Session, *, today: date, kind: str) -> list[str]:
    """The ended periods of `kind` not yet published, oldest first: every period after the newest one
    published, or — when none is — from the period of the first listing (else just the last ended period)."""
    last = last_ended_period(today, kind)
    published = [p for p in session.exec(select(Publication.period).distinct()).all() if _matches_kind(p, kind)]
    if published:
        start = next_period(max(published, key=lambda p: period_bounds(p)[1]))
    else:
        first = session.exec(
            select(func.min(Listing.listed_from)).where(
                col(Listing.status).in_([ListingStatus.listed, ListingStatus.removed])
            )
        ).one()
        start = period_of(first, kind) if first is not None and first.year >= 1900 else last
    periods: list[str] = []
    current = start
    while period_bounds(current)[1] < today:
        periods.append(current)
        current = next_period(current)
    return periods


def _matches_kind(period: str, kind: str) -> bool:
    try:
        return period_kind(period) == kind
    except PublicationError:
        return False
