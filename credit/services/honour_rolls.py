"""Honour rolls by streak (广东 十年榜 / 五年榜 / 三年榜): firms whose every effective spot check of the last
N years passed, with at least the roll's minimum of checks in that time (rule set `[honour_rolls]`).

Computed in one set-based query over the effective spot-check events (revoked or rejected events never
count); a firm shows on the longest roll it qualifies for. Invariant: a firm on a roll of N years was
checked on or before the day N years ago and every effective check of it since then passed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, literal
from sqlalchemy import select as sa_select
from sqlmodel import Session, func

from credit.models import CreditEvent, EventStatus, Firm
from credit.rules.ruleset import HonourRoll, RuleSet


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _streaks(rules: RuleSet, as_of: date):
    """(firm_id, roll code) of every firm on a roll as of `as_of`, the longest roll it qualifies for.

    A firm's streak starts at its first passing check after its last non-passing one (failure, refusal);
    it is on a roll of N years when the streak started on or before the same day N years ago and holds at
    least the roll's `min_checks` passing checks."""
    honour = rules.honour
    events = CreditEvent.__table__  # type: ignore[attr-defined]
    counted = (
        events.c.status == EventStatus.effective.value,
        events.c.event_type.in_(honour.check_types),
        events.c.occurred_on <= as_of,
    )
    bad = (
        sa_select(events.c.firm_id, func.max(events.c.occurred_on).label("last_bad"))
        .where(*counted, events.c.event_type != honour.pass_type)
        .group_by(events.c.firm_id)
        .subquery("bad")
    )
    streak = (
        sa_select(
            events.c.firm_id,
            func.min(events.c.occurred_on).label("since"),
            func.count().label("passes"),
        )
        .select_from(events.outerjoin(bad, bad.c.firm_id == events.c.firm_id))
        .where(
            *counted,
            events.c.event_type == honour.pass_type,
            (bad.c.last_bad.is_(None)) | (events.c.occurred_on > bad.c.last_bad),
        )
        .group_by(events.c.firm_id)
        .subquery("streak")
    )
    whens = [
        (
            and_(streak.c.since <= years_before(as_of, roll.years), streak.c.passes >= roll.min_checks),
            literal(roll.code),
        )
        for roll in honour.rolls
    ]
    roll_code = case(*whens, else_=None) if whens else literal(None)
    return sa_select(streak.c.firm_id, roll_code.label("roll")).subquery("streaks")


@dataclass(frozen=True)
class RollEntry:
    uscc: str
    name: str
    region: str
    industry: str


def roll_counts(session: Session, rules: RuleSet, as_of: date) -> dict[str, int]:
    """How many firms each roll holds as of `as_of` (every roll of the rule set, 0 when empty)."""
    streaks = _streaks(rules, as_of)
    result = session.execute(
        sa_select(streaks.c.roll, func.count()).where(streaks.c.roll.is_not(None)).group_by(streaks.c.roll)
    )
    found: dict[str, int] = dict(result.tuples().all())
    return {roll.code: found.get(roll.code, 0) for roll in rules.honour.rolls}


def roll_page(
    session: Session, rules: RuleSet, as_of: date, roll: HonourRoll, *, page: int = 1, per_page: int = 100
) -> list[RollEntry]:
    """One page of a roll's firms in USCC order."""
    streaks = _streaks(rules, as_of)
    rows = session.execute(
        sa_select(Firm.uscc, Firm.name, Firm.region, Firm.industry)
        .join(streaks, streaks.c.firm_id == Firm.id)
        .where(streaks.c.roll == roll.code)
        .order_by(Firm.uscc)
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    ).all()
    return [RollEntry(*r) for r in rows]
