"""The bureau's signing keys (Ed25519): the public half and its validity, for anyone to verify signed
answers and publications. The private half never enters the database (credit.services.signing)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from credit.models.base import utcnow


class SigningKey(SQLModel, table=True):
    """One key pair of the bureau; the newest key not retired signs, retired keys still verify."""

    __tablename__ = "signing_key"

    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(max_length=40, unique=True, index=True)
    algorithm: str = Field(default="Ed25519", max_length=20)
    public_key: str = Field(max_length=64)  # base64 of the raw 32 bytes
    valid_from: datetime = Field(default_factory=utcnow)
    retired_on: datetime | None = None
