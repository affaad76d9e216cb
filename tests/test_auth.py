"""Logging in and out, lock-out, safe redirects, password changes."""

from __future__ import annotations

import pytest

from credit.services.users import MAX_FAILED_LOGINS
from tests.conftest import TEST_PASSWORD, post_form
from tests.factories import make_user


@pytest.fixture
def alice(tx):
    with tx() as s:
        return make_user(s, username="alice", role="admin", display_name="爱丽丝")


def test_login_and_logout(client, auth, alice):
    response = auth.login("alice", TEST_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    assert "爱丽丝" in client.get("/admin/").get_data(as_text=True)
    auth.logout()
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong-password-1"), ("nobody", TEST_PASSWORD), ("", "")])
def test_bad_credentials(client, auth, alice, username, password):
    response = auth.login(username, password)
    assert response.status_code in (200, 401)
    assert client.get("/admin/").status_code == 302


def test_username_is_case_insensitive(client, auth, alice):
    assert auth.login("ALICE", TEST_PASSWORD).status_code == 302


def test_inactive_user_cannot_log_in(auth, tx, alice):
    from credit.services.users import get_user, update_user

    with tx() as s:
        update_user(s, get_user(s, "alice"), role="admin", display_name="", department="", is_active=False)
    assert auth.login("alice", TEST_PASSWORD).status_code == 401


def login_from(client, address: str, username: str, password: str):
    """A log-in attempt from a given client address."""
    from tests.conftest import csrf_token

    token = csrf_token(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_repeated_failures_stop_that_address_for_that_name(client, auth, alice):
    for _ in range(MAX_FAILED_LOGINS):
        login_from(client, "10.0.0.66", "alice", "wrong-password-1")
    response = login_from(client, "10.0.0.66", "alice", TEST_PASSWORD)  # right password, but stopped
    assert response.status_code == 401
    assert "锁定" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_an_attacker_cannot_lock_the_owner_out(app, alice):
    """Issue 11 #2: five anonymous wrong passwords locked any account, admins included."""
    attacker, owner = app.test_client(), app.test_client()
    for _ in range(MAX_FAILED_LOGINS * 3):
        login_from(attacker, "203.0.113.9", "alice", "wrong-password-1")
    assert login_from(attacker, "203.0.113.9", "alice", TEST_PASSWORD).status_code == 401
    assert login_from(owner, "10.20.30.40", "alice", TEST_PASSWORD).status_code == 302
    assert owner.get("/admin/", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200


def test_one_address_guessing_many_names_is_stopped(app, tx, alice):
    from credit.services.users import MAX_FAILED_PER_ADDRESS

    guesser = app.test_client()
    for n in range(MAX_FAILED_PER_ADDRESS):
        login_from(guesser, "198.51.100.7", f"user{n}", "wrong-password-1")
    response = login_from(guesser, "198.51.100.7", "alice", TEST_PASSWORD)
    assert response.status_code == 401 and "锁定" in response.get_data(as_text=True)
    assert login_from(app.test_client(), "10.0.0.2", "alice", TEST_PASSWORD).status_code == 302


def test_attempts_slow_down_before_they_stop(app, client, alice):
    from credit.services.users import BACKOFF_AFTER

    app.config["LOGIN_BACKOFF_SECONDS"] = 60
    for _ in range(BACKOFF_AFTER):
        assert login_from(client, "10.0.0.5", "alice", "wrong-password-1").status_code == 401
    response = login_from(client, "10.0.0.5", "alice", TEST_PASSWORD)
    assert response.status_code == 401
    assert "秒后再试" in response.get_data(as_text=True)
    # Another address is not slowed down.
    assert login_from(app.test_client(), "10.0.0.6", "alice", TEST_PASSWORD).status_code == 302


def test_failed_attempts_record_the_address(client, engine, alice):
    from sqlmodel import Session, select

    from credit.models import AuditEntry

    login_from(client, "192.0.2.44", "alice", "wrong-password-1")
    with Session(engine) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "login_failed")).one()
    assert (entry.entity_id, entry.address) == ("alice", "192.0.2.44")


def test_an_unknown_name_costs_a_password_check_like_a_known_one(client, alice, monkeypatch):
    """Issue 11 #7: 11 ms for an unknown user, 364 ms for a real one — names could be enumerated by timing."""
    import werkzeug.security

    from credit.services import users

    checked: list[str] = []
    real = werkzeug.security.check_password_hash

    def counting(hash_: str, password: str) -> bool:
        checked.append(password)
        return real(hash_, password)

    monkeypatch.setattr(users, "check_password_hash", counting)
    login_from(client, "10.0.0.7", "nobody-here", "some-password-1")
    login_from(client, "10.0.0.7", "alice", "wrong-password-1")
    assert checked == ["some-password-1", "wrong-password-1"]


def test_a_success_resets_the_failure_count(auth, alice):
    for _ in range(MAX_FAILED_LOGINS - 1):
        auth.login("alice", "wrong-password-1")
    assert auth.login("alice", TEST_PASSWORD).status_code == 302
    auth.logout()
    auth.login("alice", "wrong-password-1")
    assert auth.login("alice", TEST_PASSWORD).status_code == 302


def test_logout_ends_the_session_on_the_server(app, client, auth, alice):
    """Issue 11 #4: a cookie saved before logging out still opened staff pages."""
    auth.login("alice", TEST_PASSWORD)
    saved = client.get_cookie("session").value
    auth.logout()
    replay = app.test_client()
    replay.set_cookie("session", saved)
    assert replay.get("/admin/").status_code == 302


@pytest.mark.parametrize(("key", "age"), [("seen_at", 31 * 60), ("auth_at", 13 * 3600)])
def test_idle_and_absolute_timeouts_end_the_session(client, auth, alice, key, age):
    import time

    auth.login("alice", TEST_PASSWORD)
    assert client.get("/admin/").status_code == 200
    with client.session_transaction() as sess:
        sess[key] = int(time.time()) - age
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/admin/").status_code == 302


def test_an_active_session_is_not_timed_out(client, auth, alice):
    import time

    auth.login("alice", TEST_PASSWORD)
    with client.session_transaction() as sess:
        sess["seen_at"] = int(time.time()) - 29 * 60
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/admin/users", "/admin/users"),
        ("https://evil.example/", "/admin/"),
        ("//evil.example/x", "/admin/"),
        ("javascript:alert(1)", "/admin/"),
        ("/\\evil.example/x", "/admin/"),
        ("/\r\nX-Injected: 1", "/admin/"),
    ],
)
def test_next_redirect_stays_on_site(client, alice, next_url, expected):
    from tests.conftest import csrf_token

    token = csrf_token(client)
    response = client.post(
        "/login",
        query_string={"next": next_url},
        data={"username": "alice", "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == expected


def test_password_change_ends_other_sessions(app, client, auth, alice):
    other = app.test_client()
    auth.login("alice", TEST_PASSWORD)
    from tests.conftest import AuthActions

    AuthActions(other, None).login("alice", TEST_PASSWORD)
    assert other.get("/admin/").status_code == 200
    response = post_form(
        client,
        "/account/password",
        {"current": TEST_PASSWORD, "password": "brand-new-pw-9", "confirm": "brand-new-pw-9"},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200  # this session goes on
    assert other.get("/admin/").status_code == 302  # the other one ended
    auth.logout()
    assert auth.login("alice", TEST_PASSWORD).status_code == 401
    assert auth.login("alice", "brand-new-pw-9").status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"current": "wrong-pass-1", "password": "brand-new-pw-9", "confirm": "brand-new-pw-9"}, "当前密码不正确"),
        ({"current": TEST_PASSWORD, "password": "brand-new-pw-9", "confirm": "other-pw-999"}, "两次输入不一致"),
        ({"current": TEST_PASSWORD, "password": "abcdefghijkl", "confirm": "abcdefghijkl"}, "字母和数字"),
    ],
)
def test_password_change_refusals(client, auth, alice, data, message):
    auth.login("alice", TEST_PASSWORD)
    response = post_form(client, "/account/password", data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    auth.logout()
    assert auth.login("alice", TEST_PASSWORD).status_code == 302
