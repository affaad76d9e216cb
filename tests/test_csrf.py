"""Every form refuses a POST without the session's CSRF token, and the refusal changes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from credit.models import AuditEntry, Firm, User
from tests.conftest import TEST_PASSWORD, csrf_token
from tests.factories import firm_row, make_firm

FORMS = [
    ("/admin/firms/new", lambda uscc: firm_row()),
    ("/admin/firms/{uscc}/edit", lambda uscc: {**firm_row(uscc=uscc), "name": "改名有限公司"}),
    ("/admin/users/new", lambda uscc: {"username": "newbie", "role": "recorder", "password": "abc-123-def-456"}),
    ("/admin/users/1/edit", lambda uscc: {"role": "checker", "display_name": "x", "is_active": "y"}),
    ("/admin/users/1/password", lambda uscc: {"reset-password": "abc-123-def-456"}),
    (
        "/account/password",
        lambda uscc: {"current": TEST_PASSWORD, "password": "abc-123-def-456", "confirm": "abc-123-def-456"},
    ),
    ("/logout", lambda uscc: {}),
]


def _state(engine):
    from sqlmodel import Session

    with Session(engine) as s:
        return (
            s.exec(select(func.count()).select_from(Firm)).one(),
            s.exec(select(func.count()).select_from(User)).one(),
            s.exec(select(func.count()).select_from(AuditEntry)).one(),
            s.exec(select(Firm.name).order_by(Firm.id)).all(),
            s.exec(select(User.role, User.password_hash).order_by(User.id)).all(),
        )


@pytest.mark.parametrize(("path", "data"), FORMS)
@pytest.mark.parametrize("token", [None, "forged-token"])
def test_post_without_valid_token_is_refused(client, auth, tx, engine, path, data, token):
    with tx() as s:
        firm = make_firm(s)
    auth.login_as("admin")
    before = _state(engine)
    payload = data(firm.uscc)
    if token:
        payload["csrf_token"] = token
    response = client.post(path.format(uscc=firm.uscc), data=payload)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert _state(engine) == before
    assert client.get("/admin/firms").status_code == 200  # still logged in: logout was refused too


def test_login_form_needs_token(client, tx):
    from tests.factories import make_user

    with tx() as s:
        make_user(s, username="alice", role="admin")
    response = client.post("/login", data={"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302  # not logged in


def test_token_of_another_session_is_refused(app, auth, tx, engine):
    other = app.test_client()
    stolen = csrf_token(other, "/login")
    auth.login_as("admin")
    before = _state(engine)
    response = auth._client.post("/admin/firms/new", data={**firm_row(), "csrf_token": stolen})
    assert response.status_code == 400
    assert _state(engine) == before
