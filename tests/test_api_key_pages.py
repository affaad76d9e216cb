"""Admins manage departments' API keys in the browser: the key is shown once and stored hashed."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from credit.models import ApiKey
from tests.conftest import post_form


def test_admin_creates_lists_and_revokes_a_key(client, auth, engine):
    auth.login_as("admin")
    page = post_form(
        client,
        "/admin/api-keys",
        {"department": "东莞市财政局", "scopes": ["check", "record"], "label": "政府采购系统"},
    )
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="issued-token">([^<]+)<', page.get_data(as_text=True)).group(1)
    with Session(engine) as s:
        key = s.exec(select(ApiKey)).one()
    assert (key.scopes, key.label) == ("check,record", "政府采购系统")
    assert token.split(".")[1] not in key.secret_hash  # only the hash is stored
    listing = client.get("/admin/api-keys").get_data(as_text=True)
    assert key.prefix in listing and "东莞市财政局" in listing and token not in listing  # never shown again
    answer = client.get("/api/v1/listings", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    # Issue 11 #11: one POST revoked a key. The first answer shows the effect and revokes nothing…
    first = post_form(client, f"/admin/api-keys/{key.id}/revoke", {})
    assert first.status_code == 200 and "确认吊销" in first.get_data(as_text=True)
    assert "东莞市财政局" in first.get_data(as_text=True)
    assert client.get("/api/v1/listings", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # …the confirmation does.
    assert post_form(client, f"/admin/api-keys/{key.id}/revoke", {"revoke-confirmed": "yes"}).status_code == 302
    assert client.get("/api/v1/listings", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_key_needs_a_scope_and_a_department(client, auth, engine):
    auth.login_as("admin")
    assert post_form(client, "/admin/api-keys", {"department": "东莞市财政局"}).status_code == 422
    assert post_form(client, "/admin/api-keys", {"department": "", "scopes": ["check"]}).status_code == 422
    with Session(engine) as s:
        assert s.exec(select(ApiKey)).all() == []
