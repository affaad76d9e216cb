"""The append-only audit log: who changed what, when, with the values before and after.

Every ORM write is audited by a session hook, whatever the entry point (web form, CLI, API, scheduler): a
flush without an actor is refused, so no write escapes the log. The table itself refuses UPDATE and DELETE
(an ORM guard here and database triggers in the migration).

Tamper evidence: each entry carries the SHA-256 of the entry before it and its own hash over a canonical
serialisation of its content and that link (`entry_hash`), so changing, removing or inserting an entry
anywhere breaks the chain from there on (`flask credit verify`); the head of the chain, written down
outside the database (docs/operations.md), shows even a rewrite of the whole chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Column, event, insert, inspect, select, text
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
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


# The link of the first entry; 64 zeros as in a block chain's genesis.
GENESIS = "0" * 64
# The fields an entry's hash covers, in the canonical serialisation (everything but its id and hash).
CHAINED_FIELDS = (
    "at",
    "actor",
    "actor_user_id",
    "source",
    "address",
    "action",
    "entity",
    "entity_id",
    "before",
    "after",
    "note",
    "prev_hash",
)
# pg_advisory_xact_lock key that serialises appends to the chain across connections ("AUDITLOG").
CHAIN_LOCK = 0x4155444954


def _instant(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_entry(row: dict[str, Any]) -> bytes:
    """The bytes an entry's hash is taken over: its chained fields as JSON with sorted keys, compact
    separators, no ASCII escaping, UTF-8, the time in UTC to the microsecond."""
    doc = {name: row.get(name) for name in CHAINED_FIELDS}
    doc["at"] = _instant(doc["at"])
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(row: dict[str, Any]) -> str:
    """SHA-256 (hex) of an entry's canonical serialisation, which includes the previous entry's hash."""
    return hashlib.sha256(canonical_entry(row)).hexdigest()


def chain_head(connection: Any) -> str:
    """The hash of the newest entry (GENESIS for an empty log)."""
    head = connection.execute(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).scalar()  # type: ignore[union-attr]
    return head or GENESIS


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
    """Append audit rows to the chain in the session's transaction (`append_audit`)."""
    append_audit(session.connection(), rows)


def append_audit(connection: Any, rows: list[dict[str, Any]]) -> None:
    """Append audit rows to the chain in the connection's transaction: THE way every audit row is
    written (an entry inserted any other way has no place in the chain and `verify` names it). Appends
    are serialised (an advisory lock on PostgreSQL; SQLite has one writer), so two transactions never
    link to the same head."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    head = chain_head(connection)
    for row in rows:
        row["at"] = row.get("at") or utcnow()
        row["prev_hash"] = head
        row["hash"] = head = entry_hash(row)
    connection.execute(insert(AuditEntry), rows)


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
