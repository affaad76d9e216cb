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
# Lock-out: this many failed log-ins for one name within the window blocks further attempts until it passes.
MAX_FAILED_LOGINS = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
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


def recent_failures(session: Session, username: str) -> int:
    """Failed log-ins for this name inside the lock-out window since the last success."""
    since = utcnow() - LOCKOUT_WINDOW
    last_ok = session.exec(
        select(func.max(AuditEntry.id)).where(AuditEntry.action == "login", AuditEntry.entity_id == username)
    ).one()
    query = select(func.count()).where(
        AuditEntry.action == "login_failed", AuditEntry.entity_id == username, col(AuditEntry.at) >= since
    )
    if last_ok:
        query = query.where(col(AuditEntry.id) > last_ok)
    return session.exec(query).one()


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    locked: bool = False


def authenticate(session: Session, username: str, password: str) -> LoginResult:
    """Check a log-in; every attempt is audited and repeated failures lock the name for a while."""
    username = username.strip().lower()
    if recent_failures(session, username) >= MAX_FAILED_LOGINS:
        record_action(session, action="login_refused", entity="login", entity_id=username, note="locked out")
        return LoginResult(None, locked=True)
    user = get_user(session, username)
    if user and user.is_active and check_password_hash(user.password_hash, password):
        # From here on the session acts in the name of the user who has proved who they are.
        prior = session.info["actor"]
        session.info["actor"] = Actor(label=user.username, source=prior.source, user_id=user.id)
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
