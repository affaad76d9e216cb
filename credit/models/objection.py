"""Objections (异议) and credit-repair applications (信用修复), filed by the public or by a recorder on a
firm's behalf, decided by a reviewer with reasons."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from credit.models.base import utcnow


class PetitionKind(StrEnum):
    objection = "objection"
    repair = "repair"


class PetitionStatus(StrEnum):
    open = "open"
    granted = "granted"  # objection upheld / repair approved
    refused = "refused"  # objection dismissed / repair refused


class Petition(SQLModel, table=True):
    """An objection to a record or a listing, or an application for credit repair of a black listing."""

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True, index=True)  # given to the applicant to follow it
    kind: str = Field(max_length=20, index=True)
    status: str = Field(default=PetitionStatus.open, max_length=20, index=True)
    firm_id: int = Field(foreign_key="firm.id", index=True)
    listing_id: int | None = Field(default=None, foreign_key="listing.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="credit_event.id", index=True)
    applicant_name: str = Field(max_length=100)
    applicant_contact: str = Field(max_length=100)
    statement: str = Field(max_length=5000)
    filed_via: str = Field(default="public", max_length=20)  # public | recorder
    filed_by_id: int | None = Field(default=None, foreign_key="users.id")
    client_hash: str = Field(default="", max_length=64, index=True)  # salted hash of the filer's address
    filed_at: datetime = Field(default_factory=utcnow)
    # Credit repair: what the reviewer confirmed (SPEC §2: penalty performed, rectified).
    penalty_performed: bool = False
    rectified: bool = False
    decided_by_id: int | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = None
    decision_reason: str = Field(default="", max_length=2000)
