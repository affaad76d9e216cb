"""Staff accounts: creation, authentication with lock-out, role and password changes."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from credit.models import Actor, AuditEntry, Role, User, utcnow
from credit.services.audit import record_action

USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{1,39}$")
MIN_PASSWORD_LENGTH = 10
RESERVED_USERNAMES = frozenset({"system", "anonymous"})  # accounts and actor labels the system uses itself
# Throttling of password guessing (ASVS 2.2.1), counted from the audit log so it holds across workers. It
# is keyed on the client's address, so that an attacker cannot lock the owner out: within the window,
# this many failures for one name from one address stop that pair, this many from one address stop the
# address, and from BACKOFF_AFTER failures on each further attempt of the pair waits twice as long.
MAX_FAILED_LOGINS = 5
MAX_FAILED_PER_ADDRESS = 20
LOCKOUT_WINDOW = timedelta(minutes=15)
BACKOFF_AFTER = 3
BACKOFF_SECONDS = 2
# werkzeug's default (scrypt). The test suite lowers the cost through PASSWORD_HASH_METHOD to stay quick;
# production never sets it.
HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")


def hash_password(password: str) -> str:
    """A salted hash of the password (the only form in which it is stored)."""
    return generate_password_hash(password, method=HASH_METHOD)


class UserError(ValueError):
    """A request about a user that cannot be honoured; the message says why."""


def check_password_strength(password: str) -> None:
    """Refuse short or single-class passwords."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"密码至少 {MIN_PASSWORD_LENGTH} 位")
    if password.isdigit() or password.isalpha():
        raise UserError("密码须同时包含字母和数字或符号")


def _role(role: str) -> str:
    try:
        return Role(role).value
    except ValueError:
        raise UserError(f"未知角色「{role}」,可选:{', '.join(r.value for r in Role)}") from None


def get_user(session: Session, username: str) -> User | None:
    """The user with this login name, if any."""
    return session.exec(select(User).where(User.username == username)).first()


def create_user(
    session: Session, *, username: str, role: str, password: str, display_name: str = "", department: str = ""
) -> User:
    """Create a staff account; the login name is unique and the password is stored hashed."""
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise UserError("用户名须为 2–40 位小写字母、数字或 _ . -,以字母开头")
    if username in RESERVED_USERNAMES:
        raise UserError(f"用户名「{username}」为系统保留")
    if get_user(session, username):
        raise UserError(f"用户名「{username}」已存在")
    check_password_strength(password)
    user = User(
        username=username,
        role=_role(role),
        password_hash=hash_password(password),
        display_name=display_name.strip() or username,
        department=department.strip(),
    )
    session.add(user)
    session.flush()
    return user


def update_user(
    session: Session, user: User, *, role: str, display_name: str, department: str, is_active: bool
) -> User:
    """Change a user's role, names or status; deactivation ends their open sessions."""
    user.role = _role(role)
    user.display_name = display_name.strip() or user.username
    user.department = department.strip()
    if user.is_active and not is_active:
        user.session_epoch += 1
    user.is_active = is_active
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Replace a password; every open session of the user ends."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    session.add(user)
    session.flush()


def end_sessions(session: Session, user: User) -> None:
    """End every open session of the user, on every device (log-out is server-side, not only a cookie)."""
    user.session_epoch += 1
    session.add(user)
    session.flush()


def _failures(session: Session, *, address: str | None, username: str | None = None):
    """Failed log-ins inside the window from this address (for this name, since its last success there):
    how many, and when the newest was."""
    since = utcnow() - LOCKOUT_WINDOW
    query = select(func.count(), func.max(AuditEntry.at)).where(
        AuditEntry.action == "login_failed", AuditEntry.address == address, col(AuditEntry.at) >= since
    )
    if username is not None:
        last_ok = session.exec(
            select(func.max(AuditEntry.id)).where(
                AuditEntry.action == "login", AuditEntry.entity_id == username, AuditEntry.address == address
            )
        ).one()
        query = query.where(AuditEntry.entity_id == username)
        if last_ok:
            query = query.where(col(AuditEntry.id) > last_ok)
    return session.exec(query).one()


def recent_failures(session: Session, username: str, address: str | None = None) -> int:
    """Failed log-ins for this name from this address inside the window, since its last success there."""
    return _failures(session, address=address, username=username)[0]


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    locked: bool = False
    retry_after: int = 0  # seconds to wait before the next attempt is even checked
    second_factor: bool = False  # the password was right; the user's TOTP code is still to come


def throttled(session: Session, username: str, address: str | None, backoff_seconds: int) -> LoginResult | None:
    """The refusal due to earlier failures of this name from this address (locked, or wait), or None."""
    count, newest = _failures(session, address=address, username=username)
    per_address, _ = _failures(session, address=address)
    if count >= MAX_FAILED_LOGINS or per_address >= MAX_FAILED_PER_ADDRESS:
        return LoginResult(None, locked=True)
    if backoff_seconds and count >= BACKOFF_AFTER and newest is not None:
        wait = timedelta(seconds=backoff_seconds * 2 ** (count - BACKOFF_AFTER))
        remaining = (newest + wait) - utcnow()
        if remaining.total_seconds() > 0:
            return LoginResult(None, retry_after=max(1, int(remaining.total_seconds() + 0.999)))
    return None


_dummy_hash: str | None = None


def _dummy_check(password: str) -> None:
    """Spend what a real password check costs, so an unknown name answers as slowly as a known one."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password("not-a-real-password-0")
    check_password_hash(_dummy_hash, password)


def authenticate(
    session: Session, username: str, password: str, *, backoff_seconds: int = BACKOFF_SECONDS
) -> LoginResult:
    """Check a log-in; every attempt is audited with the client's address, and repeated failures from one
    address slow down, then stop, that address's attempts (never the owner's from elsewhere)."""
    username = username.strip().lower()
    address = session.info["actor"].address
    refused = throttled(session, username, address, backoff_seconds)
    if refused is not None:
        note = "locked out" if refused.locked else f"retry after {refused.retry_after} s"
        record_action(session, action="login_refused", entity="login", entity_id=username, note=note)
        return refused
    user = get_user(session, username)
    if user is None or not user.is_active:
        _dummy_check(password)
    elif check_password_hash(user.password_hash, password):  # one hash check, whatever follows
        if user.totp_enabled:
            # Half a log-in: the code is still to come (credit.services.totp.complete_login). Not a
            # success, so the failures of this name from this address keep counting.
            record_action(session, action="login_password", entity="login", entity_id=username)
            return LoginResult(user, second_factor=True)
        # From here on the session acts in the name of the user who has proved who they are.
        prior = session.info["actor"]
        session.info["actor"] = Actor(label=user.username, source=prior.source, user_id=user.id, address=address)
        user.last_login_at = utcnow()
        session.add(user)
        session.flush()
        record_action(session, action="login", entity="login", entity_id=username)
        return LoginResult(user)
    record_action(session, action="login_failed", entity="login", entity_id=username)
    return LoginResult(None)


def load_user(session: Session, session_id: str) -> User | None:
    """The user behind a Flask-Login id `"<id>.<epoch>"`, if it is still valid."""
    try:
        user_id, epoch = (int(part) for part in session_id.split("."))
    except ValueError:
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.session_epoch != epoch:
        return None
    return user
