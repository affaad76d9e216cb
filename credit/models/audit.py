"""The append-only audit log: who changed what, when, with the values before and after.

Every ORM write is audited by a session hook, whatever the entry point (web form, CLI, API, scheduler): a
flush without an actor is refused, so no write escapes the log. The table itself refuses UPDATE and DELETE
(an ORM guard here and database triggers in the migration)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Column, event, insert, inspect
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, SQLModel

from credit.models.base import JSONDoc, utcnow


@dataclass(frozen=True)
class Actor:
    """Who is writing: a user, a department's API key or the system itself, and through which entry point."""

    label: str
    source: str  # web | cli | api | scheduler | system
    user_id: int | None = None
    address: str | None = None  # the client's network address, for writes that come over HTTP

    @classmethod
    def system(cls, source: str = "system") -> Actor:
        return cls(label="system", source=source)


class AuditEntry(SQLModel, table=True):
    """One write. Never updated, never deleted."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=120, index=True)
    actor_user_id: int | None = Field(default=None, index=True)
    source: str = Field(max_length=20)
    address: str | None = Field(default=None, max_length=45, index=True)
    action: str = Field(max_length=40, index=True)
    entity: str = Field(max_length=60, index=True)
    entity_id: str | None = Field(default=None, max_length=60, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONDoc))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONDoc))
    note: str | None = Field(default=None, max_length=2000)


class AuditLogIsAppendOnly(RuntimeError):
    """Raised on any attempt to change or remove an audit entry."""


class UnauditedWrite(RuntimeError):
    """Raised when a session flushes changes without knowing who makes them."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _redacted(obj: Any) -> set[str]:
    return set(getattr(obj, "__audit_redact__", ()))


def snapshot(obj: Any) -> dict[str, Any]:
    """The column values of a mapped object, secrets redacted."""
    mapper = inspect(obj).mapper
    hidden = _redacted(obj)
    return {attr.key: ("***" if attr.key in hidden else _plain(getattr(obj, attr.key))) for attr in mapper.column_attrs}


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    hidden = _redacted(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new:
            continue
        before[attr.key] = "***" if attr.key in hidden else _plain(old)
        after[attr.key] = "***" if attr.key in hidden else _plain(new)
    return before, after


def _entity_id(obj: Any) -> str | None:
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(part) for part in key) if all(part is not None for part in key) else None


def audit_row(actor: Actor, **values: Any) -> dict[str, Any]:
    """A row for the audit table, stamped with the actor and the time."""
    return {
        "at": utcnow(),
        "actor": actor.label,
        "actor_user_id": actor.user_id,
        "source": actor.source,
        "address": actor.address,
        "before": None,
        "after": None,
        "entity_id": None,
        "note": None,
        **values,
    }


def write_audit(session: OrmSession, rows: list[dict[str, Any]]) -> None:
    """Append audit rows in the session's transaction (for bulk writes that bypass the ORM)."""
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def _before_flush(session: OrmSession, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry):
            raise AuditLogIsAppendOnly("audit entries cannot be changed or deleted")
    pending = [
        o for o in list(session.new) + list(session.dirty) + list(session.deleted) if not isinstance(o, AuditEntry)
    ]
    if pending and not isinstance(session.info.get("actor"), Actor):
        raise UnauditedWrite("a write needs an actor: open the session with credit.db.session_scope")


def _after_flush(session: OrmSession, _ctx: Any) -> None:
    actor: Actor | None = session.info.get("actor")
    if actor is None:
        return
    rows: list[dict[str, Any]] = []
    for obj in session.new:
        if not isinstance(obj, AuditEntry):
            rows.append(
                audit_row(
                    actor, action="create", entity=obj.__tablename__, entity_id=_entity_id(obj), after=snapshot(obj)
                )
            )
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) or not session.is_modified(obj, include_collections=False):
            continue
        before, after = _changes(obj)
        if after:
            rows.append(
                audit_row(
                    actor,
                    action="update",
                    entity=obj.__tablename__,
                    entity_id=_entity_id(obj),
                    before=before,
                    after=after,
                )
            )
    for obj in session.deleted:
        if not isinstance(obj, AuditEntry):
            rows.append(
                audit_row(
                    actor, action="delete", entity=obj.__tablename__, entity_id=_entity_id(obj), before=snapshot(obj)
                )
            )
    write_audit(session, rows)


_installed = False


def install_audit_hooks() -> None:
    """Attach the audit hooks to every ORM session (idempotent)."""
    global _installed
    if not _installed:
        event.listen(OrmSession, "before_flush", _before_flush)
        event.listen(OrmSession, "after_flush", _after_flush)
        _installed = True
