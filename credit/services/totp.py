"""The TOTP second factor (RFC 6238) that admins and reviewers may enable (ASVS V2.8; 等保 2.0 expects two
factors for privileged users): enrolment confirmed with a code before it is on, a code after the password
at every log-in, each code good once (a step used is never accepted again) within ±1 step of now, wrong
codes throttled with the passwords' counters, and a reset by an admin.

The secret is stored encrypted (AES-256-GCM under a key derived from the app's SECRET_KEY with HKDF, the
user id as associated data, so a copied ciphertext opens for nobody else); it is shown only while enrolment
is not confirmed, and never reaches the audit log (`User.__audit_redact__`). Time is an input: every check
takes `now` from the caller (credit.clock.now() at the edges)."""

from __future__ import annotations

import base64
import hmac
import os
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from sqlmodel import Session

from credit.models import Actor, User, utcnow
from credit.services.audit import record_action
from credit.services.users import BACKOFF_SECONDS, LoginResult, throttled

STEP = 30  # seconds (RFC 6238's default, what every authenticator app uses)
DIGITS = 6
TOLERANCE = 1  # steps either side of now: a phone's clock a little off, a code typed as it turns
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommendation for HMAC-SHA1
ROLES = ("admin", "reviewer")  # who may enable it (issue 11)
ISSUER = "质量信用红黑榜"


class TotpError(ValueError):
    """A step of the second factor that cannot be taken; the message says why."""


def _cipher(key_material: str | bytes) -> AESGCM:
    raw = key_material.encode("utf-8") if isinstance(key_material, str) else key_material
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"credit totp secret v1").derive(raw)
    return AESGCM(key)


def _seal(secret: bytes, user: User, key_material: str | bytes) -> str:
    nonce = os.urandom(12)
    sealed = _cipher(key_material).encrypt(nonce, secret, f"user:{user.id}".encode())
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def _open(user: User, key_material: str | bytes) -> bytes:
    token = user.totp_secret or ""
    if not token.startswith("v1:"):
        raise TotpError("第二因素密钥无法读取，请管理员重置")
    data = base64.urlsafe_b64decode(token[3:])
    try:
        return _cipher(key_material).decrypt(data[:12], data[12:], f"user:{user.id}".encode())
    except InvalidTag:
        raise TotpError("第二因素密钥无法读取（SECRET_KEY 已更换？），请管理员重置") from None


def _totp(secret: bytes) -> TOTP:
    # SHA-1, 6 digits, 30 s: the parameters authenticator apps assume (RFC 6238 §5.2 and Google's URI format).
    # HMAC-SHA1 as RFC 6238 specifies: an HMAC, not a collision-resistance use of SHA-1.
    return TOTP(secret, DIGITS, hashes.SHA1(), STEP, enforce_key_length=False)  # noqa: S303  # nosec B303


def step_of(now: datetime) -> int:
    """The RFC 6238 time step of `now`."""
    return int(now.timestamp()) // STEP


def code_at(secret: bytes, now: datetime) -> str:
    """The code an authenticator shows at `now` (for tests and for the enrolment check)."""
    return _totp(secret).generate(step_of(now) * STEP).decode("ascii")


def base32(secret: bytes) -> str:
    """The secret as authenticator apps take it typed in (RFC 4648 base32, no padding)."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def provisioning_uri(secret: bytes, username: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI of Google Authenticator's key-URI format (also the QR code's content)."""
    label = quote(f"{issuer}:{username}")
    return (
        f"otpauth://totp/{label}?secret={base32(secret)}&issuer={quote(issuer)}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP}"
    )


def may_enrol(user: User) -> bool:
    return user.is_active and user.has_role(*ROLES)


def start_enrolment(session: Session, user: User, *, key_material: str | bytes) -> bytes:
    """A fresh secret for the user, stored encrypted and not yet on (a new start replaces an unconfirmed
    one); returns it to be shown once. Refused when the second factor is already on."""
    if not may_enrol(user):
        raise TotpError("只有在职的管理员和审核员可以启用动态口令")
    if user.totp_enabled:
        raise TotpError("动态口令已启用；如需更换，请管理员先重置")
    secret = os.urandom(SECRET_BYTES)
    user.totp_secret = _seal(secret, user, key_material)
    user.totp_last_step = None
    session.add(user)
    session.flush()
    return secret


def pending_secret(user: User, *, key_material: str | bytes) -> bytes | None:
    """The secret of an enrolment not yet confirmed (shown again until it is); None otherwise."""
    if user.totp_enabled or not user.totp_secret:
        return None
    return _open(user, key_material)


def _matching_step(user: User, code: str, *, key_material: str | bytes, now: datetime) -> int | None:
    """The step within ±TOLERANCE of now whose code this is, if it is later than the last step used."""
    code = "".join(str(code or "").split())
    if len(code) != DIGITS or not code.isdigit() or not user.totp_secret:
        return None
    totp = _totp(_open(user, key_material))
    current = step_of(now)
    found = None
    for step in range(current - TOLERANCE, current + TOLERANCE + 1):
        if hmac.compare_digest(totp.generate(step * STEP).decode("ascii"), code):
            found = step
    if found is None or (user.totp_last_step is not None and found <= user.totp_last_step):
        return None  # wrong, or a step already used: a code is good once (replay refused)
    return found


def confirm_enrolment(session: Session, user: User, code: str, *, key_material: str | bytes, now: datetime) -> None:
    """Turn the second factor on, once the user proves their authenticator shows the right code."""
    if user.totp_enabled:
        raise TotpError("动态口令已启用")
    if not user.totp_secret:
        raise TotpError("请先开始设置动态口令")
    step = _matching_step(user, code, key_material=key_material, now=now)
    if step is None:
        raise TotpError("动态口令不正确，请核对手机时间后输入当前显示的 6 位数字")
    user.totp_enabled = True
    user.totp_last_step = step
    session.add(user)
    session.flush()
    record_action(session, action="totp_enabled", entity="users", entity_id=str(user.id))


def complete_login(
    session: Session,
    user: User,
    code: str,
    *,
    key_material: str | bytes,
    now: datetime,
    backoff_seconds: int = BACKOFF_SECONDS,
) -> LoginResult:
    """The second step of a log-in whose password was right: the code, throttled with the password
    failures of this name from this address (a wrong code counts as a failed log-in; only a whole log-in
    resets the count). On success the log-in is recorded and the session acts in the user's name."""
    address = session.info["actor"].address
    refused = throttled(session, user.username, address, backoff_seconds)
    if refused is not None:
        note = "locked out" if refused.locked else f"retry after {refused.retry_after} s"
        record_action(session, action="login_refused", entity="login", entity_id=user.username, note=note)
        return refused
    step = None
    if user.is_active and user.totp_enabled:
        step = _matching_step(user, code, key_material=key_material, now=now)
    if step is None:
        record_action(session, action="login_failed", entity="login", entity_id=user.username, note="second factor")
        return LoginResult(None)
    prior = session.info["actor"]
    session.info["actor"] = Actor(label=user.username, source=prior.source, user_id=user.id, address=address)
    user.totp_last_step = step
    user.last_login_at = utcnow()
    session.add(user)
    session.flush()
    record_action(session, action="login", entity="login", entity_id=user.username)
    return LoginResult(user)


@dataclass(frozen=True)
class ResetEffect:
    username: str
    was_enabled: bool


def reset_second_factor(session: Session, user: User, *, by: User) -> ResetEffect:
    """An admin clears a user's second factor (a lost phone): the user logs in with the password alone
    until they enrol again. Audited (the secret itself redacted)."""
    if not by.has_role("admin") or not by.is_active:
        raise TotpError("只有管理员可以重置动态口令")
    effect = ResetEffect(user.username, user.totp_enabled)
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_step = None
    session.add(user)
    session.flush()
    record_action(session, action="totp_reset", entity="users", entity_id=str(user.id), note=f"by {by.username}")
    return effect
