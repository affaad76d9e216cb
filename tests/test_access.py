"""Every page × every role: anonymous users are sent to log in, the wrong role gets 403, the right role 200.
The table must name every route of the app, so a new page cannot ship without a decision about who sees it."""

from __future__ import annotations

import pytest

from tests.factories import make_firm

ROLES = ("admin", "recorder", "reviewer", "checker")
ANY = set(ROLES)
STAFF = {"admin", "recorder", "reviewer"}
PUBLIC = "public"

# endpoint -> (GET path, roles allowed; PUBLIC for anonymous access)
PAGES: dict[str, tuple[str, object]] = {
    "public.index": ("/", PUBLIC),
    "public.set_language": ("/lang/en", PUBLIC),
    "auth.login": ("/login", PUBLIC),
    "auth.change_password": ("/account/password", ANY),
    "admin.index": ("/admin/", ANY),
    "admin.firm_list": ("/admin/firms", STAFF),
    "admin.firm_detail": ("/admin/firms/{uscc}", STAFF),
    "admin.firm_new": ("/admin/firms/new", {"admin", "recorder"}),
    "admin.firm_edit": ("/admin/firms/{uscc}/edit", {"admin", "recorder"}),
    "admin.user_list": ("/admin/users", {"admin"}),
    "admin.user_new": ("/admin/users/new", {"admin"}),
    "admin.user_edit": ("/admin/users/1/edit", {"admin"}),
    "admin.audit_log": ("/admin/audit", {"admin"}),
}
# POST-only endpoints: (path, roles allowed)
ACTIONS: dict[str, tuple[str, object]] = {
    "auth.logout": ("/logout", PUBLIC),
    "admin.user_password": ("/admin/users/1/password", {"admin"}),
}


def test_every_route_has_an_access_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert endpoints == set(PAGES) | set(ACTIONS)


@pytest.fixture
def firm(tx):
    with tx() as s:
        return make_firm(s)


@pytest.mark.parametrize("endpoint", sorted(PAGES))
def test_anonymous(client, firm, endpoint):
    path, allowed = PAGES[endpoint]
    response = client.get(path.format(uscc=firm.uscc))
    if allowed == PUBLIC:
        assert response.status_code in (200, 302)
        assert "/login?next=" not in response.headers.get("Location", "")
    else:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(e for e, (_, allowed) in PAGES.items() if allowed != PUBLIC))
def test_role_matrix(client, auth, firm, endpoint, role):
    auth.login_as(role)
    path, allowed = PAGES[endpoint]
    response = client.get(path.format(uscc=firm.uscc))
    assert response.status_code == (200 if role in allowed else 403), response.get_data(as_text=True)[:500]


@pytest.mark.parametrize("role", ROLES)
def test_post_only_actions_check_roles(client, auth, role):
    from tests.conftest import post_form

    auth.login_as(role)
    path, allowed = ACTIONS["admin.user_password"]
    response = post_form(client, path, {"reset-password": "new-password-123"})
    assert response.status_code == (302 if role in allowed else 403)


def test_post_only_action_needs_login(client):
    from tests.conftest import post_form

    response = post_form(client, "/admin/users/1/password", {"reset-password": "new-password-123"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_deactivated_user_loses_access_at_once(client, auth, engine):
    from credit.db import session_scope
    from credit.models import Actor
    from credit.services.users import get_user, update_user

    auth.login_as("recorder")
    assert client.get("/admin/firms").status_code == 200
    with session_scope(engine, Actor.system("test")) as s:
        user = get_user(s, "recorder")
        update_user(s, user, role="recorder", display_name="", department="", is_active=False)
    response = client.get("/admin/firms")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
