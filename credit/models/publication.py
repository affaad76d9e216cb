"""Publications (发布): immutable, numbered snapshots of both lists for one period."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from credit.models.base import utcnow


class Publication(SQLModel, table=True):
    """One period's lists as they stood on the snapshot date. The number is unique, so a period is
    published once; a correction is a new publication naming the one it corrects."""

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=40, unique=True, index=True)  # "2026-11", "2026-Q4", "2026-11-R1"
    period: str = Field(max_length=20, index=True)
    period_start: date
    period_end: date
    snapshot_date: date
    rule_set_version: int
    corrects_id: int | None = Field(default=None, foreign_key="publication.id")
    correction_note: str = Field(default="", max_length=1000)
    red_count: int = 0
    black_count: int = 0
    published_at: datetime = Field(default_factory=utcnow)
    published_by: str = Field(max_length=120)


class PublicationEntry(SQLModel, table=True):
    """One firm on one list of a publication, copied so that later changes never alter what was published."""

    __tablename__ = "publication_entry"

    id: int | None = Field(default=None, primary_key=True)
    publication_id: int = Field(foreign_key="publication.id", index=True)
    kind: str = Field(max_length=10)
    position: int
    listing_id: int = Field(foreign_key="listing.id", index=True)
    uscc: str = Field(max_length=18, index=True)
    name: str = Field(max_length=200)
    region: str = Field(max_length=50)
    industry: str = Field(max_length=3)
    reason: str = Field(max_length=1000)
    basis: str = Field(max_length=4000)
    listed_from: date
    listed_until: date | None = None


class PublicationWithdrawal(SQLModel, table=True):
    """A publication withdrawn (撤回) because it was made in error: a record of its own, so the publication
    itself stays exactly as published. At most one per publication; the database refuses changes."""

    __tablename__ = "publication_withdrawal"

    id: int | None = Field(default=None, primary_key=True)
    publication_id: int = Field(foreign_key="publication.id", unique=True)
    reason: str = Field(max_length=1000)
    withdrawn_on: date
    withdrawn_at: datetime = Field(default_factory=utcnow)
    withdrawn_by: str = Field(max_length=120)


class PublicationExport(SQLModel, table=True):
    """A publication's download (CSV, XLSX or JSON), written once and served from here. Stored in the
    database, not on a disk, so every web host sharing the database serves the same bytes.

    A publication never changes, but what the public may see of it does, rarely: a withdrawal, a
    correction naming it, an entry hidden after credit repair (credit.services.publication_exports).
    `fingerprint` names that state; a stored file of another fingerprint is replaced."""

    __tablename__ = "publication_export"
    __table_args__ = (UniqueConstraint("publication_id", "format", name="uq_publication_export_publication_id"),)

    id: int | None = Field(default=None, primary_key=True)
    publication_id: int = Field(foreign_key="publication.id")
    format: str = Field(max_length=10)  # csv | xlsx | json
    fingerprint: str = Field(max_length=64)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class PublicationSeal(SQLModel, table=True):
    """A publication's seal (issue 11): the SHA-256 digest of its canonical snapshot, the audit chain's
    head when it was made (the periodic anchor), and the bureau's Ed25519 signature over both
    (credit.services.publications.seals). Written in the publication's own transaction, after its entries;
    a record of its own so that the publication row stays as inserted. The database refuses changes.

    `signature` and `key_id` are empty only for publications sealed by migration 0013 (`backfilled`):
    those were made before signing existed, and a signature made later would vouch only for what the
    database says today."""

    __tablename__ = "publication_seal"

    id: int | None = Field(default=None, primary_key=True)
    publication_id: int = Field(foreign_key="publication.id", unique=True)
    digest: str = Field(max_length=64)  # hex SHA-256 of the canonical snapshot
    audit_entry_id: int | None = None  # the newest audit entry before the publication (None: empty log)
    audit_head: str = Field(max_length=64)  # that entry's hash (the chain's genesis for an empty log)
    key_id: str | None = Field(default=None, max_length=40)
    signature: str | None = Field(default=None, max_length=100)  # base64 of the 64-byte signature
    backfilled: bool = False
    sealed_at: datetime = Field(default_factory=utcnow)
