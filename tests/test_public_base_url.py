"""Absolute links come from the configured PUBLIC_BASE_URL, never from the request's Host header (issue
11, failure 11): a visitor who sends `Host: evil.example` cannot make the feed or a notice point elsewhere."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

import config as config_module
from credit.web import create_app
from tests.conftest import CSRF_RE, TEST_PASSWORD
from tests.test_petition_pages import proposal  # noqa: F401  (fixture)
from tests.test_publications import city, published  # noqa: F401  (fixtures)

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://credit.example.gov.cn/hongheibang"
EVIL = {"Host": "evil.example"}


def test_the_feed_names_the_configured_base_whatever_the_host(app, client, published):  # noqa: F811
    app.config["PUBLIC_BASE_URL"] = BASE
    response = client.get("/feed.atom", headers=EVIL)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "evil" not in body
    feed = ET.fromstring(response.get_data())  # noqa: S314 - our own feed
    hrefs = [link.get("href") for link in feed.iter(f"{ATOM}link")]
    assert hrefs and all(h.startswith(BASE + "/") for h in hrefs), hrefs
    assert f"{BASE}/feed.atom" in hrefs and f"{BASE}/publications/2026-10" in hrefs
    ids = [element.text for element in feed.iter(f"{ATOM}id")]
    assert all(i.startswith("tag:credit.example.gov.cn,") for i in ids), ids


def test_the_notice_names_the_configured_objection_form(app, client, proposal):  # noqa: F811
    app.config["PUBLIC_BASE_URL"] = BASE
    page = client.get("/login", headers=EVIL).get_data(as_text=True)  # signed in under the hostile host
    token = CSRF_RE.search(page).group(1)  # type: ignore[union-attr]
    login = {"username": "rec", "password": TEST_PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login, headers=EVIL).status_code == 302
    html = client.get(f"/admin/listings/{proposal['listing_id']}/notice", headers=EVIL).get_data(as_text=True)
    assert f"{BASE}/objections/new" in html and "evil.example" not in html


def _app(db_url, tmp_path, **settings):
    config = config_module.TestConfig()
    config.SQLALCHEMY_DATABASE_URI = db_url
    config.SIGNING_KEY_DIR = tmp_path / "signing"
    for name, value in settings.items():
        setattr(config, name, value)
    application = create_app(config)
    application.extensions["credit.engine"].dispose()
    return application


def test_unset_it_falls_back_to_server_name_then_the_development_address(db_url, tmp_path):
    assert _app(db_url, tmp_path, PUBLIC_BASE_URL="").config["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
    named = _app(db_url, tmp_path, PUBLIC_BASE_URL="", SERVER_NAME="credit.local:8000", PREFERRED_URL_SCHEME="https")
    assert named.config["PUBLIC_BASE_URL"] == "https://credit.local:8000"
    assert _app(db_url, tmp_path, PUBLIC_BASE_URL=BASE + "/").config["PUBLIC_BASE_URL"] == BASE


@pytest.mark.parametrize("bad", ["credit.example.gov.cn", "ftp://credit.example.gov.cn", "https://", "https://x/?a=1"])
def test_a_malformed_base_url_stops_the_app_from_starting(db_url, tmp_path, bad):
    with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):
        _app(db_url, tmp_path, PUBLIC_BASE_URL=bad)
