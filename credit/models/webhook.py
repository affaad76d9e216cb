"""Departments in the loop (issue 15): watch lists, the change outbox and webhook deliveries.

* `WatchEntry`: one firm (by USCC) a department watches.
* `ChangeOutbox`: one row per change a department may care about — a grade changed, a listing proposed,
  listed, withdrawn, removed or its term changed, a publication made. Written in the same transaction as
  the change (database triggers on `listing` and `publication`; the assessment writers insert grade
  changes themselves, set-based in the batch paths). Its id is the changes feed's cursor: ids are handed
  out under the audit chain's lock (PostgreSQL) or SQLite's one writer, so they appear in commit order and
  a reader that has seen id N never later finds a smaller one.
* `WebhookSubscription`: a department's URL and secret (encrypted, credit.services.webhook_crypto), for
  the changes of its watched firms or for every change; `fanout_upto` is the outbox id up to which its
  deliveries were made.
* `WebhookDelivery`: one change to one subscription, claimed by a worker under a lease, acknowledged
  only after a 2xx; `WebhookAttempt`: the log of every POST."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from credit.models.base import JSONDoc, utcnow


class WatchEntry(SQLModel, table=True):
    """A department watches a firm: its changes go to the department's `watched` subscriptions."""

    __tablename__ = "watch_entry"
    __table_args__ = (UniqueConstraint("department_id", "uscc", name="uq_watch_entry_department_id"),)

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id")
    uscc: str = Field(max_length=18, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class ChangeOutbox(SQLModel, table=True):
    """One change, as it was when it was made (`data`: a snapshot). Never updated, never deleted."""

    __tablename__ = "change_outbox"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)  # grade.changed, listing.<status>, listing.updated, publication.published
    firm_id: int | None = None
    uscc: str | None = Field(default=None, max_length=18)
    ref_id: int | None = None  # the listing's or the publication's id
    data: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow)


# What a subscription receives: the changes of the department's watched firms (and publications), or all.
SCOPE_WATCHED = "watched"
SCOPE_ALL = "all"
SUBSCRIPTION_SCOPES = (SCOPE_WATCHED, SCOPE_ALL)


class WebhookSubscription(SQLModel, table=True):
    """A department's webhook. The secret is stored encrypted and shown once, when it is made."""

    __tablename__ = "webhook_subscription"
    __audit_redact__ = ("secret_encrypted",)

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    url: str = Field(max_length=500)
    scope: str = Field(default=SCOPE_WATCHED, max_length=10)
    secret_encrypted: str = Field(max_length=200)
    active: bool = True
    fanout_upto: int = 0  # deliveries exist for every matching change with an id up to this one
    created_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class DeliveryStatus:
    pending = "pending"
    delivered = "delivered"
    parked = "parked"  # retried for the whole retry window without a 2xx: waits for a replay


class WebhookDelivery(SQLModel, table=True):
    """One change for one subscription (`outbox_id` NULL: a test ping)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "outbox_id", name="uq_webhook_delivery_subscription_id"),
        # The worker's claim: pending rows due by now, oldest first.
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="webhook_subscription.id")
    outbox_id: int | None = None
    status: str = Field(default=DeliveryStatus.pending, max_length=10)
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    lease_token: str | None = Field(default=None, max_length=32)
    last_status: int | None = None
    last_error: str = Field(default="", max_length=500)
    delivered_at: datetime | None = None


class WebhookAttempt(SQLModel, table=True):
    """One POST of a delivery and what came of it."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    status_code: int | None = None
    error: str = Field(default="", max_length=500)
    duration_ms: int = 0
