"""Department API keys: created with a random secret shown once, stored as a SHA-256 hash, checked in
constant time, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from credit.models import ApiKey, Department, utcnow
from credit.models.apikey import SCOPES


class ApiKeyError(ValueError):
    """A key request that cannot be honoured."""


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str  # `<prefix>.<secret>`: shown to the department once, never stored


def _hash(secret: str) -> str:
    # The secret is 256 random bits, so a plain SHA-256 is as strong as a slow hash here and keeps
    # the per-request check cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str) -> str:
    """Normalise 'check,record' and refuse unknown scopes."""
    scopes = sorted({s.strip() for s in text.split(",") if s.strip()})
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise ApiKeyError(
            f"权限范围须为 {', '.join(SCOPES)} 中的一个或多个" + (f",未知:{', '.join(unknown)}" if unknown else "")
        )
    return ",".join(scopes)


def get_or_create_department(session: Session, name: str) -> Department:
    """The department of that name, created on first use."""
    name = " ".join(name.split())
    if not name:
        raise ApiKeyError("部门名称不能为空")
    department = session.exec(select(Department).where(Department.name == name)).first()
    if department is None:
        department = Department(name=name[:100])
        session.add(department)
        session.flush()
    return department


def create_api_key(session: Session, *, department: str, scopes: str, label: str = "") -> IssuedKey:
    """A new key for a department; the token in the result is the only copy of the secret."""
    scope_text = parse_scopes(scopes)
    owner = get_or_create_department(session, department)
    prefix = "ck" + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        department_id=owner.id, prefix=prefix, secret_hash=_hash(secret), scopes=scope_text, label=label.strip()[:100]
    )  # type: ignore[arg-type]
    session.add(key)
    session.flush()
    return IssuedKey(key, f"{prefix}.{secret}")


def authenticate_key(session: Session, token: str) -> ApiKey | None:
    """The live key behind a bearer token, or None."""
    prefix, _, secret = token.strip().partition(".")
    if not prefix or not secret:
        return None
    key = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, _hash(secret)):
        return None
    return key


def revoke_api_key(session: Session, key: ApiKey) -> None:
    """Stop a key from working; the record stays."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.flush()
