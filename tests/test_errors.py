"""Errors: HTML for browsers, JSON for API clients, never a stack trace."""

from __future__ import annotations


def test_404_html_and_json(client):
    html = client.get("/no-such-page")
    assert html.status_code == 404 and html.mimetype == "text/html"
    assert "找不到该页面" in html.get_data(as_text=True)
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404 and api.is_json
    assert api.get_json()["error"] == "not_found"
    asked = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert asked.is_json


def test_405_keeps_the_allow_header(client):
    response = client.delete("/login")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_unexpected_error_shows_no_trace(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    for headers in ({}, {"Accept": "application/json"}):
        response = client.get("/boom", headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 500
        assert "secret internal detail" not in body and "Traceback" not in body


def test_oversized_upload_is_refused(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 10
    response = client.post("/login", data={"username": "x" * 100})
    assert response.status_code == 413
