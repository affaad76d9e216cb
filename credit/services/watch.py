"""Watch lists: the firms (by USCC) a department follows. Its `watched` webhook subscriptions receive the
changes of these firms (and every publication). Writes go through the ORM, so each is audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from credit.models import Firm, WatchEntry
from credit.uscc import validate_uscc


@dataclass(frozen=True)
class WatchPage:
    entries: list[tuple[WatchEntry, str | None]]  # the entry and the firm's name (None: not on file)
    total: int
    page: int
    per_page: int


def get_watch(session: Session, department_id: int, uscc: str) -> WatchEntry | None:
    return session.exec(
        select(WatchEntry).where(WatchEntry.department_id == department_id, WatchEntry.uscc == uscc)
    ).first()


def add_watch(session: Session, *, department_id: int, uscc: str) -> tuple[WatchEntry, bool]:
    """Watch a firm on file (idempotent): the entry and whether it is new. A malformed code raises
    UsccError; a firm not on file raises LookupError."""
    code = validate_uscc(uscc)
    if session.exec(select(Firm.id).where(Firm.uscc == code)).first() is None:
        raise LookupError(code)
    found = get_watch(session, department_id, code)
    if found is not None:
        return found, False
    entry = WatchEntry(department_id=department_id, uscc=code)
    session.add(entry)
    session.flush()
    return entry, True


def remove_watch(session: Session, *, department_id: int, uscc: str) -> bool:
    """Stop watching; False when the firm was not watched."""
    found = get_watch(session, department_id, uscc)
    if found is None:
        return False
    session.delete(found)
    session.flush()
    return True


def watch_page(session: Session, department_id: int, *, page: int = 1, per_page: int = 100) -> WatchPage:
    """One page of a department's watch list, in USCC order."""
    total = session.exec(
        select(func.count()).select_from(WatchEntry).where(WatchEntry.department_id == department_id)
    ).one()
    rows = session.exec(
        select(WatchEntry, Firm.name)
        .join(Firm, col(Firm.uscc) == col(WatchEntry.uscc), isouter=True)
        .where(WatchEntry.department_id == department_id)
        .order_by(col(WatchEntry.uscc))
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return WatchPage([(entry, name) for entry, name in rows], int(total), page, per_page)
