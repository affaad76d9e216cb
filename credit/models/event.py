"""Credit events (信用事件): one documented fact each, on one firm's credit file. Never deleted: a wrong
record is rejected, revoked or corrected, with a reason, and the file keeps every version."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Column, Index, Numeric, String, Text, text
from sqlmodel import Field, SQLModel

from credit.models.base import utcnow


class EventStatus(StrEnum):
    pending = "pending"
    effective = "effective"
    rejected = "rejected"
    revoked = "revoked"


STATUS_LABELS = {
    EventStatus.pending: "待审核",
    EventStatus.effective: "已生效",
    EventStatus.rejected: "已驳回",
    EventStatus.revoked: "已撤销",
}


class ImportBatch(SQLModel, table=True):
    """One imported file: who brought it, its fingerprint and what it added."""

    __tablename__ = "import_batch"

    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=255)
    sha256: str = Field(max_length=64, index=True)
    rows: int = 0
    created: int = 0
    skipped: int = 0
    recorded_by_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)


class CreditEvent(SQLModel, table=True):
    """A fact with a document behind it. Only `effective` events count.

    Natural key: firm + type + document number, unique among original records (a correction shares the
    key of the record it corrects), and at most one effective record per key."""

    __tablename__ = "credit_event"
    __table_args__ = (
        Index(
            "uq_credit_event_natural_key",
            "firm_id",
            "event_type",
            "document_no",
            unique=True,
            sqlite_where=text("corrects_id IS NULL"),
            postgresql_where=text("corrects_id IS NULL"),
        ),
        Index(
            "uq_credit_event_effective_key",
            "firm_id",
            "event_type",
            "document_no",
            unique=True,
            sqlite_where=text("status = 'effective'"),
            postgresql_where=text("status = 'effective'"),
        ),
        Index(
            "uq_credit_event_pending_correction",
            "corrects_id",
            unique=True,
            sqlite_where=text("status = 'pending' AND corrects_id IS NOT NULL"),
            postgresql_where=text("status = 'pending' AND corrects_id IS NOT NULL"),
        ),
        Index("ix_credit_event_firm_occurred", "firm_id", "occurred_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    firm_id: int = Field(foreign_key="firm.id")
    event_type: str = Field(max_length=40, index=True)
    occurred_on: date
    document_no: str = Field(max_length=100)
    authority: str = Field(max_length=200)
    severity: str | None = Field(default=None, max_length=20)
    amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(16, 2)))
    product: str = Field(default="", max_length=200)
    valid_until: date | None = None
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    person_name: str = Field(default="", max_length=50)
    certificate_no: str = Field(default="", max_length=100)
    # A spot-check failure's failed item(s), the result and the limit, as the announcement printed them.
    failed_item: str = Field(default="", sa_column=Column(String(500), nullable=False, server_default=""))
    failed_result: str = Field(default="", sa_column=Column(String(500), nullable=False, server_default=""))
    failed_limit: str = Field(default="", sa_column=Column(String(500), nullable=False, server_default=""))
    rectifies_id: int | None = Field(default=None, foreign_key="credit_event.id")
    corrects_id: int | None = Field(default=None, foreign_key="credit_event.id")
    correction_reason: str = Field(default="", max_length=1000)
    status: str = Field(default=EventStatus.pending, max_length=20, index=True)
    source: str = Field(default="form", max_length=20)  # form | import | api
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)
    api_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    recorded_by_id: int | None = Field(default=None, foreign_key="users.id")
    recorded_at: datetime = Field(default_factory=utcnow)
    reviewed_by_id: int | None = Field(default=None, foreign_key="users.id")
    reviewed_at: datetime | None = None
    review_note: str = Field(default="", max_length=1000)
    revoked_by_id: int | None = Field(default=None, foreign_key="users.id")
    revoked_at: datetime | None = None
    revoke_reason: str = Field(default="", max_length=1000)
