"""Shared pieces of every table: the constraint naming convention (so Alembic migrations name constraints
the same on SQLite and PostgreSQL) and UTC timestamps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import SQLModel

from credit import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

# JSON documents: JSONB on PostgreSQL (indexable), JSON text on SQLite.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """Now, time-zone aware: stored in UTC, shown in the bureau's time zone (from credit.clock)."""
    return clock.now()
