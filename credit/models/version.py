"""Counters the database itself raises when cached data changes, so a process can cache and a page can
be revalidated (ETag) by reading one row:

* `ConfigVersion` (migration 0008): what web workers cache per process — the active rule set and the
  API keys; triggers bump it on every such change, whichever client writes.
* `ChangeCounter` (migration 0009): a number per kind of public data (the current lists).

Two tables for one idea, from two pieces of work merged together; folding ConfigVersion into a
`config` row of change_counter is a cleanup for later."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

CONFIG_ROW = 1
# The counter of everything the current lists show: every listing, and the firm particulars they print.
LISTS = "lists"


class ConfigVersion(SQLModel, table=True):
    """Row 1 holds the counter; a missing row reads as version 0."""

    __tablename__ = "config_version"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = 0


class ChangeCounter(SQLModel, table=True):
    """How often `name` changed. Raised once per committing transaction on PostgreSQL (a deferred trigger,
    so the row is locked only while committing) and once per changed row on SQLite (one writer at a time)."""

    __tablename__ = "change_counter"

    name: str = Field(primary_key=True, max_length=40)
    version: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    # PostgreSQL: the transaction that raised it last, so one transaction raises it once.
    txid: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
