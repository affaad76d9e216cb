"""User management by admins."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from credit.models import User
from tests.conftest import post_form


def user(engine, username: str) -> User | None:
    with Session(engine) as s:
        return s.exec(select(User).where(User.username == username)).first()


def test_admin_creates_a_user_who_can_log_in(app, client, auth, engine):
    auth.login_as("admin")
    response = post_form(
        client,
        "/admin/users/new",
        {
            "username": "Zhou",
            "display_name": "周核查",
            "department": "财政局",
            "role": "checker",
            "password": "first-pass-77",
        },
    )
    assert response.status_code == 302
    created = user(engine, "zhou")
    assert (created.role, created.department, created.display_name) == ("checker", "财政局", "周核查")
    assert "周核查" in client.get("/admin/users").get_data(as_text=True)
    from tests.conftest import AuthActions

    assert AuthActions(app.test_client(), engine).login("zhou", "first-pass-77").status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "admin", "role": "recorder", "password": "first-pass-77"}, "已存在"),
        ({"username": "9lives", "role": "recorder", "password": "first-pass-77"}, "用户名"),
        ({"username": "short", "role": "recorder", "password": "short-1"}, "10"),
        ({"username": "digits", "role": "recorder", "password": "12345678901"}, "字母和数字"),
        ({"username": "boss", "role": "superuser", "password": "first-pass-77"}, "不是有效的选择"),
    ],
)
def test_bad_user_is_refused(client, auth, engine, data, message):
    auth.login_as("admin")
    response = post_form(client, "/admin/users/new", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with Session(engine) as s:
        assert len(s.exec(select(User)).all()) == 1


def test_admin_changes_role_and_deactivates(client, auth, tx, engine):
    from tests.factories import make_user

    with tx() as s:
        target = make_user(s, username="sun", role="recorder")
    auth.login_as("admin")
    data = {"role": "reviewer", "display_name": "孙", "department": ""}
    # Issue 11 #11: one POST deactivated a user. The first shows what it will do and changes nothing…
    first = post_form(client, f"/admin/users/{target.id}/edit", data)
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert "确认停用" in page and "所有登录会话立即结束" in page
    assert user(engine, "sun").is_active is True and user(engine, "sun").role == "recorder"
    # …the confirmation does it.
    response = post_form(client, f"/admin/users/{target.id}/edit", {**data, "confirmed": "yes"})
    assert response.status_code == 302
    stored = user(engine, "sun")
    assert stored.role == "reviewer"
    assert stored.is_active is False  # the box was not ticked
    assert stored.session_epoch == target.session_epoch + 1


def test_admin_cannot_demote_or_disable_themselves(client, auth, engine):
    auth.login_as("admin")
    me = user(engine, "admin")
    for data in ({"role": "checker", "is_active": "y"}, {"role": "admin"}):
        response = post_form(client, f"/admin/users/{me.id}/edit", data)
        assert response.status_code == 422
        assert "不能取消自己的管理员角色" in response.get_data(as_text=True)
    stored = user(engine, "admin")
    assert (stored.role, stored.is_active) == ("admin", True)


def test_password_reset_refuses_a_weak_password(client, auth, tx, engine):
    from tests.factories import make_user

    with tx() as s:
        target = make_user(s, username="qian", role="recorder")
    auth.login_as("admin")
    before = user(engine, "qian").password_hash
    response = post_form(
        client, f"/admin/users/{target.id}/password", {"reset-password": "abcdefghijkl"}, follow_redirects=True
    )
    assert "字母和数字" in response.get_data(as_text=True)
    assert user(engine, "qian").password_hash == before


def test_unknown_user_is_404(client, auth):
    auth.login_as("admin")
    assert client.get("/admin/users/999/edit").status_code == 404
