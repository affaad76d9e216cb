"""Change counters: a number per kind of public data that the database itself raises whenever that data
changes (triggers of migration 0009), so a page built from it can be cached and revalidated (ETag) by
reading one row."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

# The counter of everything the current lists show: every listing, and the firm particulars they print.
LISTS = "lists"


class ChangeCounter(SQLModel, table=True):
    """How often `name` changed. Raised once per committing transaction on PostgreSQL (a deferred trigger,
    so the row is locked only while committing) and once per changed row on SQLite (one writer at a time)."""

    __tablename__ = "change_counter"

    name: str = Field(primary_key=True, max_length=40)
    version: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    # PostgreSQL: the transaction that raised it last, so one transaction raises it once.
    txid: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
