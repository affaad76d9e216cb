"""Response headers on every page (issue 11 #8, #10): a Content-Security-Policy without inline script,
no framing, no sniffing, a referrer policy, HSTS behind HTTPS, and no caching of what staff see."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD, post_form
from tests.factories import make_user


def test_public_pages_carry_the_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP in development


def test_hsts_when_the_cookie_is_secure(app, client):
    app.config["SESSION_COOKIE_SECURE"] = True
    assert "max-age=" in client.get("/").headers["Strict-Transport-Security"]


@pytest.mark.parametrize("path", ["/admin/", "/admin/review", "/admin/audit", "/admin/checks.csv", "/admin/users"])
def test_staff_pages_and_exports_are_never_stored(client, auth, tx, path):
    with tx() as s:
        make_user(s, username="boss", role="admin", password=TEST_PASSWORD)
        make_user(s, username="rev", role="reviewer", password=TEST_PASSWORD)
    auth.login("rev" if path == "/admin/review" else "boss", TEST_PASSWORD)
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["Cache-Control"] == "no-store"


def test_the_login_page_is_not_stored_either(client):
    assert client.get("/login").headers["Cache-Control"] == "no-store"


def test_no_template_has_inline_script_or_style():
    """The CSP allows no inline script or style: every page must work under it."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "templates"
    for path in root.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\son[a-z]+\s*=", text), path
        assert "<style" not in text and 'style="' not in text, path


@pytest.mark.parametrize("target", ["/%0d%0aX-Injected:1", "/%0aSet-Cookie:x=1", "//evil.example", "/\\evil.example"])
def test_the_language_switch_never_breaks_a_header_or_leaves_the_site(client, target):
    """Issue 11 #10: `/lang/en?next=/%0d%0aX:1` was a 500."""
    response = client.get(f"/lang/en?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "X-Injected" not in response.headers and "x=1" not in response.headers.get("Set-Cookie", "")


def test_next_url_of_a_decision_never_leaves_the_site(client, auth, tx):
    """Issue 11 #11: `next_url` on approve redirected off-site."""
    from tests.factories import make_firm

    with tx() as s:
        recorder = make_user(s, username="rec", role="recorder", password=TEST_PASSWORD)
        make_user(s, username="rev", role="reviewer", password=TEST_PASSWORD)
        firm = make_firm(s)
        from credit.services.events import record_event

        raw = {
            "uscc": firm.uscc,
            "event_type": "spot_check_pass",
            "occurred_on": "2026-10-01",
            "document_no": "FW-1",
            "authority": "东莞市市场监督管理局",
        }
        event_id = record_event(s, raw, recorder=recorder).id
    auth.login("rev", TEST_PASSWORD)
    response = post_form(
        client, f"/admin/events/{event_id}/approve", {"approve-note": "", "next_url": "https://evil.example/x"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/events/")


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"usccs": ["\\ud800"], "purpose": "permit"}', b'{"a":' * 40 + b"1" + b"}" * 40],
    ids=["100k-brackets", "lone-surrogate", "41-levels"],
)
def test_hostile_json_is_a_400_not_a_500(client, tx, body):
    """Issue 11 #10: 100,000 nested brackets and a JSON "\\ud800" were 500s."""
    from tests.test_api_events import issue_key

    token = issue_key(tx, scopes="check,record")
    for path in ("/api/v1/credit/batch", "/api/v1/events"):
        response = client.post(
            path, data=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        )
        assert response.status_code == 400, (path, response.get_data(as_text=True)[:200])
        assert response.get_json()["error"] == "bad_request"
