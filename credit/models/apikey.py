"""Departments and their API keys. A key is shown once; only its hash is stored."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from credit.models.base import utcnow

SCOPES = ("check", "record", "watch")  # watch: watch lists, webhooks, the changes feed (issue 15)


class Department(SQLModel, table=True):
    """Another department (发改、财政、住建、自然资源、银行…) or inspection system that calls the API."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """`<prefix>.<secret>`: the prefix finds the row, the secret's SHA-256 proves it."""

    __tablename__ = "api_key"
    __audit_redact__ = ("secret_hash",)

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    prefix: str = Field(max_length=16, unique=True, index=True)
    secret_hash: str = Field(max_length=64)
    scopes: str = Field(max_length=100)  # comma-separated subset of SCOPES
    label: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes.split(",")
