"""Serialising writers: one publisher (or other named writer) at a time across processes."""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlmodel import Session

# --- serialising writers ---------------------------------------------------------------------------


def take_writer_lock(session: Session, name: str) -> None:
    """Make concurrent writers of `name` (two schedulers, a scheduler and the CLI) wait for each other until
    the end of the transaction. Call it first in the unit of work.

    PostgreSQL: a transaction-level advisory lock. SQLite: take the database's write lock now with a write
    that changes nothing, before anything is read — a transaction that reads first and then writes fails
    with SQLITE_BUSY when another writer committed meanwhile; one that writes first just waits (busy timeout)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"credit:{name}".encode()) - 2**31  # a signed 32-bit key, stable across processes
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif conn.dialect.name == "sqlite":
        conn.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))
