"""Spot-check announcements (监督抽查公告) imported by firm name: the announcement (one import batch),
its rows, the firms each row names and how each name was matched to the register; remembered name
decisions (aliases and names outside the jurisdiction); saved column mappings; the register's
normalised-name index."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from credit.models.base import JSONDoc, utcnow


class PartyState(StrEnum):
    matched = "matched"  # the normalised name (or a remembered alias) is one registered firm
    to_confirm = "to_confirm"  # candidates found; a recorder picks one
    unmatched = "unmatched"  # no candidate; a recorder registers the firm or refers it
    confirmed = "confirmed"  # a recorder picked or registered the firm
    outside = "outside"  # not the bureau's: on the referral list for the competent bureau


OPEN_STATES = (PartyState.to_confirm, PartyState.unmatched)


class Announcement(SQLModel, table=True):
    """One published announcement: keyed by publisher and number (or publisher and date when it has no
    number). Its events form one import batch."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=320, unique=True)
    publisher: str = Field(max_length=200)
    authority: str = Field(max_length=200)
    number: str = Field(default="", max_length=100)
    published_on: date = Field(index=True)
    layout: str = Field(max_length=100)
    filename: str = Field(default="", max_length=255)
    import_batch_id: int = Field(foreign_key="import_batch.id", unique=True)
    recorded_by_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)


class AnnouncementRow(SQLModel, table=True):
    """One result of an announcement, as read (nothing guessed): the event it makes for each firm."""

    __tablename__ = "announcement_row"
    __table_args__ = (UniqueConstraint("announcement_id", "row_key"),)

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id")
    row_key: str = Field(max_length=40)  # 序号, or the row of the file when the table has none
    file_row: int
    event_type: str = Field(max_length=40)  # spot_check_pass | spot_check_fail
    severity: str | None = Field(default=None, max_length=20)
    product: str = Field(default="", max_length=200)
    failed_item: str = Field(default="", max_length=500)
    failed_result: str = Field(default="", max_length=500)
    failed_limit: str = Field(default="", max_length=500)
    document_no: str = Field(max_length=100)
    description: str = Field(default="", max_length=4000)
    cells: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))  # the row as published


class AnnouncementParty(SQLModel, table=True):
    """A firm a row names in a role that gets the record, and what became of its name."""

    __tablename__ = "announcement_party"
    __table_args__ = (
        UniqueConstraint("row_id", "role", "name_key"),
        Index("ix_announcement_party_state_key", "state", "name_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    row_id: int = Field(foreign_key="announcement_row.id")
    role: str = Field(max_length=20)  # producer | commissioner | importer | distributor | seller
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200)
    address: str = Field(default="", max_length=300)
    state: str = Field(max_length=20)
    firm_id: int | None = Field(default=None, foreign_key="firm.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="credit_event.id")
    candidates: list[dict[str, Any]] = Field(sa_column=Column(JSONDoc, nullable=False))  # [{firm_id, score}]
    decided_by_id: int | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = None
    note: str = Field(default="", max_length=500)


class NameAlias(SQLModel, table=True):
    """A recorder's decision about a spelling, remembered: this normalised name is that firm, or (no firm)
    is outside the bureau's jurisdiction. The next announcement that spells it so is decided at once."""

    __tablename__ = "name_alias"

    id: int | None = Field(default=None, primary_key=True)
    name_key: str = Field(max_length=200, unique=True)
    name: str = Field(max_length=200)
    firm_id: int | None = Field(default=None, foreign_key="firm.id", index=True)
    note: str = Field(default="", max_length=500)
    decided_by_id: int = Field(foreign_key="users.id")
    decided_at: datetime = Field(default_factory=utcnow)


class ColumnMapping(SQLModel, table=True):
    """A recorder's mapping of an unlisted layout's header titles to the fields of an announcement row."""

    __tablename__ = "column_mapping"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    columns: dict[str, str] = Field(sa_column=Column(JSONDoc, nullable=False))
    created_by_id: int = Field(foreign_key="users.id")
    updated_at: datetime = Field(default_factory=utcnow)


class FirmNameKey(SQLModel, table=True):
    """The register's normalised names (credit.announcements.names.name_key), kept in step with the
    firm table before every announcement import; `name` is the name the key was computed from."""

    __tablename__ = "firm_name_key"

    firm_id: int = Field(primary_key=True, foreign_key="firm.id", sa_column_kwargs={"autoincrement": False})
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200, index=True)
