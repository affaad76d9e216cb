"""Numbered versions of the rule set. A version is never changed once saved; one version is active."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, text
from sqlmodel import Field, SQLModel

from credit.models.base import JSONDoc, utcnow


class RuleSetVersion(SQLModel, table=True):
    """A saved rule-set document; `active` marks the one in force (at most one, enforced by an index)."""

    __tablename__ = "rule_set_version"
    __table_args__ = (
        Index(
            "uq_rule_set_version_active",
            "active",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str = Field(max_length=200)
    document: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))
    source_text: str = Field(default="")  # the text as the admin wrote it (TOML or JSON)
    note: str = Field(default="", max_length=1000)
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow)
    active: bool = Field(default=False)
    activated_at: datetime | None = None
