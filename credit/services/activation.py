"""Putting a rule-set version in force, and its preview: what activation does to the city — how many firms
change grade (from → to), how many black proposals and red listings result — computed by the very run that
activation makes (set-based: one city-wide assessment, one GROUP BY over the stored grades), inside a
savepoint that the preview rolls back. The preview writes nothing; its numbers are those activation gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, func

from credit.models import FirmAssessment
from credit.services.assessment import assess_all
from credit.services.rulesets import activate_version, ruleset_of

# The grades before the run, materialised once (a firm never assessed has none).
_BEFORE = Table(
    "tmp_grade_before",
    MetaData(),
    Column("firm_id", Integer, primary_key=True),
    Column("grade", String(2)),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True)
class ActivationEffect:
    """What activating a version as of a date does (or did)."""

    version: int
    as_of: date
    firms: int
    # (grade before or None for a firm not assessed before, grade after, number of firms), changes only
    transitions: tuple[tuple[str | None, str, int], ...] = field(default_factory=tuple)
    black_proposed: int = 0
    red_listed: int = 0
    red_renewed: int = 0

    @property
    def changed(self) -> int:
        """Firms whose grade changes."""
        return sum(n for _, _, n in self.transitions)


def _run(session: Session, version: int, as_of: date) -> ActivationEffect:
    connection = session.connection()
    _BEFORE.create(connection, checkfirst=True)
    connection.execute(_BEFORE.delete())
    connection.execute(
        insert(_BEFORE).from_select(["firm_id", "grade"], sa_select(FirmAssessment.firm_id, FirmAssessment.grade))
    )
    try:
        row = activate_version(session, version)
        run = assess_all(session, as_of=as_of, rules=ruleset_of(row))
        after = FirmAssessment.__table__  # type: ignore[attr-defined]
        changes = session.execute(
            sa_select(_BEFORE.c.grade, after.c.grade, func.count())
            .select_from(after.outerjoin(_BEFORE, _BEFORE.c.firm_id == after.c.firm_id))
            .where((_BEFORE.c.grade.is_(None)) | (_BEFORE.c.grade != after.c.grade))
            .group_by(_BEFORE.c.grade, after.c.grade)
            .order_by(_BEFORE.c.grade.nulls_first(), after.c.grade)
        ).all()
    finally:
        _BEFORE.drop(connection)
    return ActivationEffect(
        version=version,
        as_of=as_of,
        firms=run.firms,
        transitions=tuple((before, grade, n) for before, grade, n in changes),
        black_proposed=run.black_proposed,
        red_listed=run.red_listed,
        red_renewed=run.red_renewed,
    )


def activate_with_effect(session: Session, version: int, *, as_of: date) -> ActivationEffect:
    """Put `version` in force and re-assess every firm as of `as_of` (black proposals dated then, red
    listings made or renewed); returns what changed. Runs in the caller's transaction."""
    return _run(session, version, as_of)


def preview_activation(session: Session, version: int, *, as_of: date) -> ActivationEffect:
    """What `activate_with_effect` would do, computed by doing it inside a savepoint that is rolled back:
    nothing is written (not even the audit entries of the run). On SQLite the caller holds the write lock
    for the run (`begin_write`), as activation itself would."""
    savepoint = session.begin_nested()
    try:
        return _run(session, version, as_of)
    finally:
        savepoint.rollback()
        session.expire_all()
