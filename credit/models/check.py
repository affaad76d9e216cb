"""The credit-check log (信用核查记录): one row per answered check, never changed; and the per-key
request counters of the API's rate limit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from credit.models.base import JSONDoc, utcnow

CHANNELS = ("api", "web", "cli")


class CreditCheck(SQLModel, table=True):
    """One check as answered: who asked, through which channel, and the exact answer given (with its
    receipt id). Append-only: the database refuses UPDATE and DELETE (migration 0005)."""

    __tablename__ = "credit_check"

    id: int | None = Field(default=None, primary_key=True)
    receipt: str = Field(max_length=24, unique=True, index=True)
    checked_at: datetime = Field(default_factory=utcnow, index=True)
    firm_id: int = Field(foreign_key="firm.id", index=True)
    uscc: str = Field(max_length=18, index=True)
    purpose: str = Field(max_length=20)
    as_of: date
    channel: str = Field(max_length=10)
    api_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    department: str = Field(default="", max_length=100, index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    username: str = Field(default="", max_length=40)
    grade: str = Field(max_length=2)
    rule_set_version: int
    answer: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))


class ApiRate(SQLModel, table=True):
    """Requests of one key in one fixed window, shared by every worker through the database."""

    __tablename__ = "api_rate"

    key_id: int = Field(primary_key=True)
    window_start: datetime = Field(primary_key=True)
    count: int = Field(default=0)
