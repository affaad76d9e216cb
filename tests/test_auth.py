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


def test_repeated_failures_lock_the_name(client, auth, alice):
    for _ in range(MAX_FAILED_LOGINS):
        auth.login("alice", "wrong-password-1")
    response = auth.login("alice", TEST_PASSWORD)  # right password, but locked
    assert response.status_code == 401
    assert "锁定" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_a_success_resets_the_failure_count(auth, alice):
    for _ in range(MAX_FAILED_LOGINS - 1):
        auth.login("alice", "wrong-password-1")
    assert auth.login("alice", TEST_PASSWORD).status_code == 302
    auth.logout()
    auth.login("alice", "wrong-password-1")
    assert auth.login("alice", TEST_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/admin/users", "/admin/users"),
        ("https://evil.example/", "/admin/"),
        ("//evil.example/x", "/admin/"),
        ("javascript:alert(1)", "/admin/"),
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
