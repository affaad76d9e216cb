"""Assessment results and list entries (红榜 / 黑榜)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, text
from sqlmodel import Field, SQLModel

from credit.models.base import JSONDoc, utcnow


class FirmAssessment(SQLModel, table=True):
    """A firm's latest assessment (one row per firm), as written by the last run that included it."""

    __tablename__ = "assessment"

    firm_id: int = Field(primary_key=True, foreign_key="firm.id", sa_column_kwargs={"autoincrement": False})
    as_of: date
    score: int
    grade: str = Field(max_length=1, index=True)
    triggers: str = Field(default="", max_length=400)  # trigger codes, comma-separated
    red_eligible: bool = False
    red_basis: str = Field(default="", max_length=40)  # red criteria met, comma-separated: honour, passes
    rule_set_version: int
    computed_at: datetime = Field(default_factory=utcnow)
    # The first day on which this result may differ from a live evaluation (an event starts or stops
    # counting, a window of the rules passes it, a valid_until is reached): a check on a day in
    # [as_of, valid_until) under the same rule set is answered from this row. VALID_FOREVER when nothing
    # changes with time; NULL when unknown (a writer that does not compute it): then checks evaluate live.
    valid_until: date | None = None
    # The newest negative event on or before as_of (for "no negative event in N months" measures).
    last_negative_on: date | None = None


# "Never changes with time" (a firm without events): a date no check can reach.
VALID_FOREVER = date(9999, 12, 31)


class ListKind(StrEnum):
    red = "red"
    black = "black"


class ListingStatus(StrEnum):
    proposed = "proposed"  # black only: notice given, waiting for the deadline and a decision
    listed = "listed"
    removed = "removed"  # term ended, credit repair, triggering event revoked, or red lost
    withdrawn = "withdrawn"  # a proposal that ended without listing (objection upheld, trigger gone)


class Listing(SQLModel, table=True):
    """One firm on one list, from proposal (black) or eligibility (red) to removal. Dated at every step,
    with reason, basis and who decided. At most one open (proposed or listed) entry per firm and list."""

    __table_args__ = (
        Index(
            "uq_listing_open",
            "firm_id",
            "kind",
            unique=True,
            sqlite_where=text("status IN ('proposed', 'listed')"),
            postgresql_where=text("status IN ('proposed', 'listed')"),
        ),
        Index("ix_listing_kind_status", "kind", "status"),
        # The current lists, newest first (credit.services.public.current_list).
        Index("ix_listing_kind_listed_from", "kind", "listed_from"),
    )

    id: int | None = Field(default=None, primary_key=True)
    firm_id: int = Field(foreign_key="firm.id", index=True)
    kind: str = Field(max_length=10)
    status: str = Field(max_length=20)
    reason: str = Field(max_length=1000)
    basis: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))  # triggers, event ids, rule set
    rule_set_version: int
    # Black: the newest triggering event this entry answers for. A firm is proposed again only for a
    # triggering event newer than every entry's, so an early removal (repair, upheld objection) sticks.
    covers_event_id: int | None = None
    proposed_on: date | None = None
    # Service of the notice (送达, black): how and when it reached the firm, recorded by whom. The objection
    # deadline runs from `served_on` in official working days; it stays empty until the notice is served,
    # or while a year it runs into has no working-day calendar (credit.rules.listings.objection_deadline).
    served_on: date | None = None
    notice_sent_on: date | None = None  # the day it was handed over, posted, sent or publicly announced
    service_method: str = Field(default="", max_length=20)  # credit.rules.listings.ServiceMethod
    served_by_id: int | None = Field(default=None, foreign_key="users.id")
    service_note: str = Field(default="", max_length=500)
    deadline: date | None = None  # the last day of the objection period (black)
    waived: bool = False
    listed_from: date | None = None
    listed_until: date | None = None  # the first day it is no longer in force
    decided_on: date | None = None
    decided_by_id: int | None = Field(default=None, foreign_key="users.id")
    decision_note: str = Field(default="", max_length=1000)
    ended_on: date | None = None
    end_code: str | None = Field(
        default=None, max_length=30, index=True
    )  # credit.rules.listings.EndCode: logic reads this
    end_reason: str = Field(default="", max_length=1000)  # for people
    created_at: datetime = Field(default_factory=utcnow)
