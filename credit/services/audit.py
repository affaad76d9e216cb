"""Explicit audit entries for acts that are not row changes (log-ins, imports, exports)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from credit.models.audit import Actor, AuditEntry, audit_row, write_audit


def record_action(
    session: Session,
    *,
    action: str,
    entity: str,
    entity_id: str | None = None,
    note: str | None = None,
    after: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> None:
    """Append one audit entry for an act, in the session's transaction."""
    who = actor or session.info["actor"]
    write_audit(session, [audit_row(who, action=action, entity=entity, entity_id=entity_id, note=note, after=after)])


def audit_entries(
    session: Session, *, entity: str | None = None, entity_id: str | None = None, limit: int = 200
) -> list[AuditEntry]:
    """The newest audit entries, optionally for one entity."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    return list(session.exec(query))


def count_entries(session: Session, **filters: Any) -> int:
    """How many audit entries match the given column values."""
    query = select(func.count()).select_from(AuditEntry)
    for name, value in filters.items():
        query = query.where(getattr(AuditEntry, name) == value)
    return session.exec(query).one()
