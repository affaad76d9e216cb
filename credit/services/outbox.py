"""The change outbox (credit.models.webhook.ChangeOutbox): every change a department may act on, written
in the transaction that makes it, read by the changes feed and fanned out to webhooks.

Listings and publications are written by database triggers (migration 0018); grade changes by the
assessment writers through this module: `record_grade_change` on the per-firm path, `GradeSnapshot`
around the set-based replacement of assessments (one INSERT … SELECT, no object per row).

Invariant: outbox ids are drawn under the audit chain's lock on PostgreSQL (held until commit) and under
SQLite's single writer, so they appear in commit order and a cursor never skips a change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, literal, select, text
from sqlmodel import Session

from credit.models import ChangeOutbox, Firm, FirmAssessment, utcnow
from credit.models.audit import CHAIN_LOCK

GRADE_CHANGED = "grade.changed"
_OUTBOX = ChangeOutbox.__table__  # type: ignore[attr-defined]
_PREV = Table(
    "tmp_prev_grade",
    MetaData(),
    Column("firm_id", Integer, primary_key=True),
    Column("grade", String(1)),
    prefixes=["TEMPORARY"],
)


def _lock(session: Session) -> None:
    """Take the audit chain's lock before drawing an outbox id (PostgreSQL; SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})


def _json_object(session: Session, **fields: Any):
    build = func.jsonb_build_object if session.get_bind().dialect.name == "postgresql" else func.json_object
    args: list[Any] = []
    for name, value in fields.items():
        args += [literal(name), value]
    return build(*args)


def record_grade_change(
    session: Session, *, firm_id: int, previous: str | None, grade: str, score: int, as_of: Any
) -> None:
    """One `grade.changed` row for a firm whose stored grade moves from `previous` (None: first) to `grade`."""
    _lock(session)
    data = {"grade": grade, "previous_grade": previous, "score": score, "as_of": as_of.isoformat()}
    uscc = select(Firm.uscc).where(Firm.id == firm_id).scalar_subquery()
    session.execute(
        insert(_OUTBOX).values(
            kind=GRADE_CHANGED, firm_id=firm_id, uscc=uscc, ref_id=None, data=data, recorded_at=utcnow()
        )
    )


class GradeSnapshot:
    """Around a set-based replacement of assessments: `before()` copies the stored grades of the firms in
    scope into a temporary table, `after()` writes one outbox row per firm whose grade differs from it
    (new firms included), in firm order, with one INSERT … SELECT."""

    def __init__(self, session: Session, scope: list[Any]) -> None:
        self.session = session
        self.scope = scope

    def before(self) -> None:
        connection = self.session.connection()
        _PREV.create(connection, checkfirst=True)
        connection.execute(_PREV.delete())
        connection.execute(
            insert(_PREV).from_select(
                ["firm_id", "grade"], select(FirmAssessment.firm_id, FirmAssessment.grade).where(*self.scope)
            )
        )

    def after(self, now: datetime | None = None) -> int:
        connection = self.session.connection()
        try:
            _lock(self.session)
            a = FirmAssessment.__table__  # type: ignore[attr-defined]
            firm = Firm.__table__  # type: ignore[attr-defined]
            data = _json_object(
                self.session,
                grade=a.c.grade,
                previous_grade=_PREV.c.grade,
                score=a.c.score,
                as_of=a.c.as_of,
            )
            changed = (
                select(
                    literal(GRADE_CHANGED),
                    a.c.firm_id,
                    firm.c.uscc,
                    data,
                    literal(now or utcnow(), _OUTBOX.c.recorded_at.type),
                )
                .select_from(a.join(firm, firm.c.id == a.c.firm_id).outerjoin(_PREV, _PREV.c.firm_id == a.c.firm_id))
                .where(*self.scope, (_PREV.c.grade.is_(None)) | (_PREV.c.grade != a.c.grade))
                .order_by(a.c.firm_id)
            )
            result = connection.execute(
                insert(_OUTBOX).from_select(["kind", "firm_id", "uscc", "data", "recorded_at"], changed)
            )
            return max(result.rowcount or 0, 0)
        finally:
            _PREV.drop(connection)


def change_json(row: Any) -> dict[str, Any]:
    """One change as the feed and the webhooks give it."""
    recorded = row.recorded_at
    return {
        "id": row.id,
        "kind": row.kind,
        "uscc": row.uscc,
        "recorded_at": recorded.isoformat() if isinstance(recorded, datetime) else str(recorded),
        "data": dict(row.data or {}),
    }


def changes_since(session: Session, since: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` changes with an id above `since`, in id (= commit) order."""
    rows = session.execute(select(_OUTBOX).where(_OUTBOX.c.id > since).order_by(_OUTBOX.c.id).limit(limit)).all()
    return [change_json(row) for row in rows]


def newest_change(session: Session) -> int:
    """The id of the newest change (0 for none)."""
    return int(session.execute(select(func.max(_OUTBOX.c.id))).scalar() or 0)


def last_change_at(session: Session, day: Any) -> datetime:
    """`Last-Modified` of the bulk list file for `day`: the newest change's time, or the start of the day
    (the file also changes with the date) when that is later. An upper bound of the true time."""
    from datetime import UTC
    from datetime import time as clock_time

    from credit.clock import BUREAU_TZ

    start = datetime.combine(day, clock_time(0), BUREAU_TZ).astimezone(UTC)
    newest = session.execute(select(_OUTBOX.c.recorded_at).order_by(_OUTBOX.c.id.desc()).limit(1)).scalar()
    if newest is None:
        return start
    if isinstance(newest, str):
        newest = datetime.fromisoformat(newest)
    newest = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
    return max(start, newest.replace(microsecond=0))
