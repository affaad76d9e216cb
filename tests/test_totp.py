"""The TOTP second factor (RFC 6238, ASVS V2.8): enrolment confirmed by a code, a code after the password at
log-in, wrong codes refused and throttled like passwords, a code good once (replay refused), ±1 step of
tolerance, the secret encrypted and never in the audit log, and an admin's reset with confirmation. Time
is credit.clock's (the suite fixes the day)."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from sqlmodel import Session, select

import config
from credit import clock
from credit.models import AuditEntry, User
from credit.services import totp
from credit.services.users import MAX_FAILED_LOGINS, authenticate, get_user
from tests.conftest import TEST_PASSWORD, csrf_token, post_form
from tests.factories import make_user

KEY = config.TestConfig.SECRET_KEY


@pytest.fixture
def enrolled(tx) -> bytes:
    """`rev`, a reviewer whose second factor is on (confirmed with the code of the step before now)."""
    with tx() as s:
        user = make_user(s, username="rev", role="reviewer")
        secret = totp.start_enrolment(s, user, key_material=KEY)
        earlier = clock.now() - timedelta(seconds=totp.STEP)
        totp.confirm_enrolment(s, user, totp.code_at(secret, earlier), key_material=KEY, now=earlier)
    return secret


def code(secret: bytes, shift: int = 0) -> str:
    return totp.code_at(secret, clock.now() + timedelta(seconds=shift * totp.STEP))


def password_step(client, username: str = "rev"):
    return client.post(
        "/login", data={"username": username, "password": TEST_PASSWORD, "csrf_token": csrf_token(client)}
    )


def code_step(client, value: str):
    return client.post("/login/code", data={"code": value, "csrf_token": csrf_token(client)})


def signed_in(client) -> bool:
    return client.get("/admin/review").status_code == 200


def audit_text(engine) -> str:
    with Session(engine) as s:
        rows = s.exec(select(AuditEntry)).all()
        return json.dumps([(r.action, r.before, r.after, r.note) for r in rows], ensure_ascii=False, default=str)


# --- the algorithm ------------------------------------------------------------------------------------------


def test_codes_are_rfc_6238():
    """RFC 6238 Appendix B, SHA-1, at T = 59 s and 1111111109 s (8 digits there; we use the same HMAC)."""
    secret = b"12345678901234567890"
    reference = TOTP(secret, 8, hashes.SHA1(), 30, enforce_key_length=False)  # noqa: S303
    assert reference.generate(59) == b"94287082"
    assert reference.generate(1111111109) == b"07081804"
    # our six digits are the last six of the same truncation (RFC 4226 §5.3)
    assert totp._totp(secret).generate(59) == b"287082"
    uri = totp.provisioning_uri(secret, "rev")
    assert uri.startswith("otpauth://totp/") and f"secret={totp.base32(secret)}" in uri and "period=30" in uri


# --- enrolment ----------------------------------------------------------------------------------------------


def test_enrolment_is_on_only_once_confirmed_and_the_secret_never_shows_again(client, auth, engine):
    auth.login_as("reviewer")
    page = client.get("/account/totp").get_data(as_text=True)
    assert "开始设置动态口令" in page
    post_form(client, "/account/totp", {"start-submit": "y"})
    page = client.get("/account/totp").get_data(as_text=True)
    shown = re.search(r"data-totp-secret>([A-Z2-7]+)<", page).group(1)  # type: ignore[union-attr]
    assert "otpauth://totp/" in page and 'src="data:image/svg+xml;base64,' in page
    secret = base64.b32decode(shown + "=" * (-len(shown) % 8))
    with Session(engine) as s:
        user = get_user(s, "reviewer")
        assert not user.totp_enabled
        assert user.totp_secret and shown not in user.totp_secret  # stored encrypted
    wrong = post_form(client, "/account/totp", {"confirm-code": "000000" if code(secret) != "000000" else "111111"})
    assert wrong.status_code == 422 and "动态口令不正确" in wrong.get_data(as_text=True)
    with Session(engine) as s:
        assert not get_user(s, "reviewer").totp_enabled
    assert post_form(client, "/account/totp", {"confirm-code": code(secret)}).status_code == 302
    page = client.get("/account/totp").get_data(as_text=True)
    assert "动态口令已启用" in page and shown not in page and "otpauth://" not in page
    with Session(engine) as s:
        assert get_user(s, "reviewer").totp_enabled
    text = audit_text(engine)
    assert shown not in text and "totp_enabled" in text
    with Session(engine) as s:
        assert get_user(s, "reviewer").totp_secret not in text


def test_recorders_and_checkers_cannot_enrol(session):
    recorder = make_user(session, role="recorder")
    with pytest.raises(totp.TotpError, match="管理员和审核员"):
        totp.start_enrolment(session, recorder, key_material=KEY)


def test_the_secret_opens_only_for_its_user_and_key(session):
    one, other = make_user(session, role="reviewer"), make_user(session, role="admin")
    secret = totp.start_enrolment(session, one, key_material=KEY)
    assert totp.pending_secret(one, key_material=KEY) == secret
    with pytest.raises(totp.TotpError, match="无法读取"):
        totp.pending_secret(one, key_material="another-secret-key")
    other.totp_secret = one.totp_secret  # a ciphertext copied to another account
    with pytest.raises(totp.TotpError, match="无法读取"):
        totp.pending_secret(other, key_material=KEY)


# --- log-in -------------------------------------------------------------------------------------------------


def test_log_in_asks_for_the_code_after_the_password(client, enrolled, engine):
    response = password_step(client)
    assert response.status_code == 302 and response.headers["Location"] == "/login/code"
    assert not signed_in(client)
    assert code_step(client, code(enrolled)).status_code == 302
    assert signed_in(client)
    with Session(engine) as s:
        actions = [e.action for e in s.exec(select(AuditEntry).where(AuditEntry.entity == "login"))]
    assert actions[-2:] == ["login_password", "login"]


def test_a_wrong_code_is_refused(client, enrolled):
    password_step(client)
    wrong = "123456" if code(enrolled) != "123456" else "654321"
    response = code_step(client, wrong)
    assert response.status_code == 401 and "动态口令不正确" in response.get_data(as_text=True)
    assert not signed_in(client)
    assert code_step(client, code(enrolled)).status_code == 302 and signed_in(client)


def test_a_code_is_good_once(app, client, enrolled):
    used = code(enrolled)
    password_step(client)
    assert code_step(client, used).status_code == 302
    again = app.test_client()
    password_step(again)
    response = code_step(again, used)
    assert response.status_code == 401 and "已使用过" in response.get_data(as_text=True)
    assert code_step(again, code(enrolled, +1)).status_code == 302  # the next step's code still works


@pytest.mark.parametrize(("shift", "accepted"), [(-1, True), (+1, True), (-2, False), (+2, False)])
def test_one_step_of_tolerance(tx, client, shift, accepted):
    with tx() as s:
        user = make_user(s, username="rev", role="reviewer")
        secret = totp.start_enrolment(s, user, key_material=KEY)
        user.totp_enabled = True  # as if confirmed long ago
    password_step(client)
    assert (code_step(client, code(secret, shift)).status_code == 302) is accepted


def test_wrong_codes_are_throttled_like_passwords(app, client, enrolled, engine):
    wrong = "000000" if code(enrolled) != "000000" else "999999"
    password_step(client)
    for _ in range(MAX_FAILED_LOGINS):
        code_step(client, wrong)
    # locked: the pending log-in is dropped, and the password alone no longer even gets to the code
    response = code_step(client, code(enrolled))
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert password_step(client).status_code == 401
    assert not signed_in(client)
    owner = app.test_client()  # the owner from another address still gets in
    environ = {"REMOTE_ADDR": "10.9.8.7"}
    owner.post(
        "/login",
        data={"username": "rev", "password": TEST_PASSWORD, "csrf_token": csrf_token(owner)},
        environ_base=environ,
    )
    ok = owner.post(
        "/login/code",
        data={"code": code(enrolled, +1), "csrf_token": csrf_token(owner)},
        environ_base=environ,
    )
    assert ok.status_code == 302


def test_the_password_step_alone_resets_no_failure_count(session, enrolled):
    """An attacker who knows the password cannot clear the code failures by logging in again with it."""
    from credit.models import Actor

    session.info["actor"] = Actor(label="anonymous", source="web", address="192.0.2.1")
    user = get_user(session, "rev")
    wrong = "000000" if code(enrolled) != "000000" else "111111"
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert authenticate(session, "rev", TEST_PASSWORD, backoff_seconds=0).second_factor
        refused = totp.complete_login(session, user, wrong, key_material=KEY, now=clock.now(), backoff_seconds=0)
        assert refused.user is None
    assert authenticate(session, "rev", TEST_PASSWORD, backoff_seconds=0).second_factor
    totp.complete_login(session, user, wrong, key_material=KEY, now=clock.now(), backoff_seconds=0)
    assert authenticate(session, "rev", TEST_PASSWORD, backoff_seconds=0).locked


def test_a_stale_pending_log_in_is_dropped(client, enrolled):
    password_step(client)
    with client.session_transaction() as cookie:
        cookie["totp_pending"] = {**cookie["totp_pending"], "at": cookie["totp_pending"]["at"] - 301}
    response = code_step(client, code(enrolled))
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not signed_in(client)


# --- reset --------------------------------------------------------------------------------------------------


def test_an_admin_resets_a_second_factor_after_confirming(app, client, auth, enrolled, engine):
    auth.login_as("admin")
    with Session(engine) as s:
        user_id = get_user(s, "rev").id
    edit = client.get(f"/admin/users/{user_id}/edit").get_data(as_text=True)
    assert "重置动态口令" in edit
    first = post_form(client, f"/admin/users/{user_id}/totp-reset", {})
    assert first.status_code == 200 and "此后仅凭密码即可登录" in first.get_data(as_text=True)
    with Session(engine) as s:
        assert s.get(User, user_id).totp_enabled  # the first POST changed nothing
    done = post_form(client, f"/admin/users/{user_id}/totp-reset", {"totp-confirmed": "yes"})
    assert done.status_code == 302
    with Session(engine) as s:
        user = s.get(User, user_id)
        assert (user.totp_enabled, user.totp_secret, user.totp_last_step) == (False, None, None)
        reset = s.exec(select(AuditEntry).where(AuditEntry.action == "totp_reset")).one()
        assert reset.actor == "admin" and reset.entity_id == str(user_id)
        changed = [e for e in s.exec(select(AuditEntry).where(AuditEntry.entity == "users")) if e.after]
        assert all(e.after.get("totp_secret") in (None, "***") for e in changed)
    owner = app.test_client()
    assert password_step(owner).headers["Location"] != "/login/code"  # the password alone again
    assert signed_in(owner)
