"""Grade history (评价结果历史): every assessment run keeps its results by date, as changes only.

Both assessment paths — the per-firm re-assessment in the transaction that changed a file
(`reassess_firms`) and the set-based runs (`assess_all`, `reassess_set`) — call `record_history` after they
have stored their results in `assessment`, so the history is written by one statement whatever the path:
an INSERT … SELECT from `assessment` of the firms whose score or grade differs from their latest history
row on or before the run's date. A province of 2 million firms assessed nightly would otherwise add
730 million rows a year; kept as changes, it grows with what happened (docs/supervision.md).

Invariant: a firm's grade on a day D is its latest row with as_of ≤ D, ordered by (as_of, id)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Date, Integer, and_, exists, func, insert, literal, or_, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session

from credit.models import FirmAssessment
from credit.models.statistics import GradeHistory

GRADES = ("A", "B", "C", "D")
CHUNK = 1000

history = GradeHistory.__table__  # type: ignore[attr-defined]
assessment = FirmAssessment.__table__  # type: ignore[attr-defined]


def _latest_id(firm_id, day):
    """The id of a firm's latest history row on or before `day` (a correlated scalar subquery)."""
    h = history.alias("latest")
    return (
        sa_select(h.c.id)
        .where(h.c.firm_id == firm_id, h.c.as_of <= day)
        .order_by(h.c.as_of.desc(), h.c.id.desc())
        .limit(1)
        .correlate_except(h)
        .scalar_subquery()
    )


def record_history(session: Session, *, firms=None, firm_ids: Iterable[int] | None = None) -> int:
    """Append to the history the stored assessments (all, those of `firms` — a SELECT of firm ids — or
    of `firm_ids`) whose score or grade differs from the firm's latest row on or before their date, in
    one INSERT … SELECT per chunk. Idempotent: a second call for the same results adds nothing."""
    if firm_ids is not None:
        ids = sorted(set(firm_ids))
        return sum(
            _record(session, assessment.c.firm_id.in_(ids[start : start + CHUNK]))
            for start in range(0, len(ids), CHUNK)
        )
    return _record(session, None if firms is None else assessment.c.firm_id.in_(firms))


def _record(session: Session, scope) -> int:
    same = history.alias("same")
    unchanged = exists().where(
        same.c.id == _latest_id(assessment.c.firm_id, assessment.c.as_of),
        same.c.score == assessment.c.score,
        same.c.grade == assessment.c.grade,
    )
    source = sa_select(
        assessment.c.firm_id,
        assessment.c.as_of,
        assessment.c.score,
        assessment.c.grade,
        assessment.c.rule_set_version,
    ).where(~unchanged, *([] if scope is None else [scope]))
    statement = insert(history).from_select(["firm_id", "as_of", "score", "grade", "rule_set_version"], source)
    result = session.execute(statement)
    return max(result.rowcount or 0, 0)


@dataclass(frozen=True)
class HistoryPoint:
    """One row of a firm's history: from `as_of` on, this score and grade."""

    as_of: date
    score: int
    grade: str
    rule_set_version: int


def grade_on(session: Session, firm_id: int, day: date) -> HistoryPoint | None:
    """The firm's score and grade on `day` as the assessments found them (None before its first)."""
    row = session.execute(
        sa_select(history.c.as_of, history.c.score, history.c.grade, history.c.rule_set_version)
        .where(history.c.firm_id == firm_id, history.c.as_of <= day)
        .order_by(history.c.as_of.desc(), history.c.id.desc())
        .limit(1)
    ).first()
    return HistoryPoint(*row) if row else None


def firm_history(session: Session, firm_id: int, *, limit: int = 500) -> list[HistoryPoint]:
    """The firm's history, oldest first (its newest `limit` rows): one point per change."""
    rows = session.execute(
        sa_select(history.c.as_of, history.c.score, history.c.grade, history.c.rule_set_version)
        .where(history.c.firm_id == firm_id)
        .order_by(history.c.as_of.desc(), history.c.id.desc())
        .limit(limit)
    ).all()
    return [HistoryPoint(*row) for row in reversed(rows)]


def _days_table(days: list[date]):
    """The days as a one-column derived table (a UNION ALL of literals: portable, and bounded by the
    trend's length in the rule set)."""
    parts = [sa_select(literal(day, Date).label("day"), literal(i, Integer).label("n")) for i, day in enumerate(days)]
    return union_all(*parts).subquery("days")


def grade_counts_on_days(session: Session, days: list[date]) -> dict[date, dict[str, int]]:
    """How many firms had each grade on each of `days` (e.g. month ends), in one grouped statement: each
    history row holds from its as_of until the firm's next row (LEAD), so a day counts the rows that hold
    on it. Firms with no row yet on a day are not counted on it."""
    if not days:
        return {}
    spans = sa_select(
        history.c.grade,
        history.c.as_of,
        func.lead(history.c.as_of)
        .over(partition_by=history.c.firm_id, order_by=(history.c.as_of, history.c.id))
        .label("next_as_of"),
    ).subquery("spans")
    table = _days_table(days)
    rows = session.execute(
        sa_select(table.c.n, spans.c.grade, func.count())
        .select_from(table)
        .join(
            spans,
            and_(spans.c.as_of <= table.c.day, or_(spans.c.next_as_of.is_(None), spans.c.next_as_of > table.c.day)),
        )
        .group_by(table.c.n, spans.c.grade)
    ).all()
    found: dict[date, dict[str, int]] = {day: dict.fromkeys(GRADES, 0) for day in days}
    for n, grade, count in rows:
        found[days[n]][grade] = count
    return found


def grade_counts_on(session: Session, day: date) -> dict[str, int]:
    """How many firms had each grade on `day` by the history ("how many firms were D on this day")."""
    return grade_counts_on_days(session, [day])[day]
