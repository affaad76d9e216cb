"""Staff accounts and their roles. Passwords are stored as salted hashes only."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from credit.models.base import utcnow


class Role(StrEnum):
    """What a staff member may do (SPEC §1)."""

    admin = "admin"
    recorder = "recorder"
    reviewer = "reviewer"
    checker = "checker"


ROLE_LABELS = {Role.admin: "管理员", Role.recorder: "录入员", Role.reviewer: "审核员", Role.checker: "核查员"}


class User(SQLModel, table=True):
    """A staff login. `session_epoch` changes on password reset or deactivation, ending every open session."""

    __tablename__ = "users"
    __audit_redact__ = ("password_hash", "totp_secret")

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=40, unique=True, index=True)
    display_name: str = Field(default="", max_length=80)
    role: str = Field(max_length=20)
    department: str = Field(default="", max_length=100)
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    session_epoch: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None
    # TOTP second factor (RFC 6238; credit.services.totp): the secret encrypted (AES-GCM under a key derived
    # from SECRET_KEY, bound to the user id), whether it is on, and the last time step used (no replay).
    totp_secret: str | None = Field(default=None, max_length=255)
    totp_enabled: bool = Field(default=False)
    totp_last_step: int | None = None

    # The Flask-Login user protocol, without importing Flask here.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"

    def has_role(self, *roles: str) -> bool:
        return self.role in roles
