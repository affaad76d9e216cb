"""Issue 15, departments in the loop: a watched firm's changes reach a real HTTP receiver on 127.0.0.1 exactly
once each, signed (HMAC and Ed25519); with the receiver down they are retried (the clock moved, not slept)
and arrive once it is back, or are parked after the retry window; a worker process killed mid-delivery
loses nothing and sends nothing twice that was acknowledged; the URL policy refuses what the admin did not
allow; the watch and subscription API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select, text

from credit import clock
from credit.models import Actor, ChangeOutbox, Firm, WebhookDelivery, utcnow
from credit.services.apikeys import create_api_key
from credit.services.due_process import decide_black
from credit.services.listings import open_listing
from credit.services.signing import verify
from credit.services.webhook_crypto import verify_hmac
from credit.services.webhook_urls import UrlPolicy, UrlRefused, check_url, resolve_target
from credit.services.webhooks import WebhookSettings, deliver_pass
from tests.factories import make_firm
from tests.test_due_process import NOTICE_DAY, decider, heavy_penalty, serve

ROOT = Path(__file__).resolve().parents[1]
DEPARTMENT = "东莞市发展和改革局"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A real HTTP server on 127.0.0.1 recording every POST; `status` is what it answers, `hold` the
    1-based request numbers it keeps waiting for `hold_seconds` before answering."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[dict] = []
        self.status = 200
        self.hold: set[int] = set()
        self.hold_seconds = 0.0
        self.location = ""
        self.server: ThreadingHTTPServer | None = None
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/credit"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body, "status": receiver.status})
                    number = len(receiver.requests)
                if number in receiver.hold:
                    time.sleep(receiver.hold_seconds)
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def accepted(self) -> list[dict]:
        """The requests it answered with a 2xx, as parsed documents."""
        return [json.loads(r["body"]) for r in self.requests if 200 <= r["status"] < 300]


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def hooks_app(app):
    app.config["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    app.config["API_RATE_LIMIT"] = 0
    return app


def key_headers(tx, scopes: str = "watch,check") -> dict[str, str]:
    with tx(Actor.system("test")) as s:
        token = create_api_key(s, department=DEPARTMENT, scopes=scopes).token
    return {"Authorization": f"Bearer {token}"}


def settings_of(app) -> WebhookSettings:
    return WebhookSettings.from_config(app.config)


def subscribe(client, headers, url: str, scope: str = "watched") -> dict:
    response = client.post("/api/v1/subscriptions", json={"url": url, "scope": scope}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def watched_firm(tx, client, headers) -> Firm:
    with tx() as s:
        firm = make_firm(s)
    assert client.put(f"/api/v1/watch/{firm.uscc}", headers=headers).status_code == 201
    return firm


def penalise_and_list(tx, firm: Firm) -> None:
    """An event approved (a heavy penalty: the grade changes, a black listing is proposed) and, after the
    objection period, the listing decided."""
    with clock.today_is(NOTICE_DAY), tx() as s:
        heavy_penalty(s, s.get(Firm, firm.id))
        serve(s, open_listing(s, firm.id, "black"), NOTICE_DAY)
    with tx() as s:
        listing = open_listing(s, firm.id, "black")
        decide_black(s, listing, decider(s), approve=True, note="", on=clock.today())


def firm_changes(engine, uscc: str, after: int = 0) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(ChangeOutbox.id)
                .where(ChangeOutbox.uscc == uscc, ChangeOutbox.id > after)
                .order_by(ChangeOutbox.id)
            ).scalars()
        )


def test_each_change_of_a_watched_firm_arrives_once_signed(hooks_app, client, tx, engine, receiver):
    headers = key_headers(tx)
    firm = watched_firm(tx, client, headers)
    with tx() as s:
        unwatched = make_firm(s)
    sub = subscribe(client, headers, receiver.url)
    penalise_and_list(tx, firm)
    penalise_and_list(tx, unwatched)  # not watched: nothing of it is sent
    expected = firm_changes(engine, firm.uscc)
    with engine.connect() as conn:
        kinds = list(conn.execute(select(ChangeOutbox.kind).where(ChangeOutbox.id.in_(expected))).scalars())
    assert {"grade.changed", "listing.proposed", "listing.listed"} <= set(kinds)

    report = deliver_pass(engine, settings_of(hooks_app))
    assert report.delivered == len(expected)
    assert deliver_pass(engine, settings_of(hooks_app)).claimed == 0  # nothing sent twice
    assert sorted(d["id"] for d in receiver.accepted()) == expected
    assert all(d["uscc"] == firm.uscc for d in receiver.accepted())

    keys = {k["key_id"]: k["public_key"] for k in client.get("/api/v1/signing-keys").get_json()["keys"]}
    for request in receiver.requests:
        h, body = request["headers"], request["body"]
        assert verify_hmac(sub["secret"], h["X-Credit-Timestamp"], body, h["X-Credit-Signature"])
        assert not verify_hmac(sub["secret"], str(int(h["X-Credit-Timestamp"]) + 1), body, h["X-Credit-Signature"])
        document = json.loads(body)
        assert verify(document, keys[document["key_id"]])
        assert not verify({**document, "uscc": unwatched.uscc}, keys[document["key_id"]])
        assert h["X-Credit-Event-Id"] == str(document["id"])

    log = client.get(f"/api/v1/subscriptions/{sub['id']}/deliveries", headers=headers).get_json()
    assert log["total"] == len(expected)
    assert {d["status"] for d in log["deliveries"]} == {"delivered"}
    assert all(len(d["log"]) == 1 and d["log"][0]["status_code"] == 200 for d in log["deliveries"])


def test_receiver_down_retries_with_backoff_then_arrives_once(hooks_app, client, tx, engine):
    down = Receiver()  # not started: connection refused
    headers = key_headers(tx)
    firm = watched_firm(tx, client, headers)
    subscribe(client, headers, down.url)
    penalise_and_list(tx, firm)
    expected = firm_changes(engine, firm.uscc)
    settings = settings_of(hooks_app)
    t0 = utcnow()

    first = deliver_pass(engine, settings, now=t0)
    assert first.retrying == len(expected) and first.delivered == 0
    assert deliver_pass(engine, settings, now=t0 + timedelta(seconds=1)).claimed == 0  # backing off
    second = deliver_pass(engine, settings, now=t0 + timedelta(seconds=30))  # 10 s base, jitter ≤ 10 s
    assert second.retrying == len(expected)
    with engine.connect() as conn:
        attempts = conn.execute(select(WebhookDelivery.attempts)).scalars().all()
        due = conn.execute(select(WebhookDelivery.next_attempt_at)).scalars().all()
    assert set(attempts) == {2}
    assert all(t0 + timedelta(seconds=40) <= (d if d.tzinfo else d.replace(tzinfo=t0.tzinfo)) for d in due)  # doubled

    down.start()
    try:
        later = t0 + timedelta(hours=1)
        assert deliver_pass(engine, settings, now=later).delivered == len(expected)
        assert deliver_pass(engine, settings, now=later + timedelta(hours=2)).claimed == 0
        assert sorted(d["id"] for d in down.accepted()) == expected
    finally:
        down.stop()


def test_after_the_retry_window_a_delivery_is_parked_and_a_replay_sends_it(hooks_app, client, tx, engine, receiver):
    headers = key_headers(tx)
    firm = watched_firm(tx, client, headers)
    sub = subscribe(client, headers, receiver.url)
    with tx() as s:
        from credit.services.assessment import reassess_firms

        heavy_penalty(s, s.get(Firm, firm.id))
        reassess_firms(s, [firm.id])
    receiver.status = 503
    settings = settings_of(hooks_app)
    t0 = utcnow()
    deliver_pass(engine, settings, now=t0)
    report = deliver_pass(engine, settings, now=t0 + timedelta(hours=25))
    assert report.parked == report.claimed > 0
    assert deliver_pass(engine, settings, now=t0 + timedelta(hours=50)).claimed == 0  # parked stays parked
    log = client.get(f"/api/v1/subscriptions/{sub['id']}/deliveries?status=parked", headers=headers).get_json()
    assert log["total"] == report.parked
    receiver.status = 200
    one = log["deliveries"][0]
    replay = client.post(f"/api/v1/subscriptions/{sub['id']}/deliveries/{one['id']}/replay", headers=headers)
    assert replay.status_code == 202
    assert deliver_pass(engine, settings).delivered == 1
    assert [d["id"] for d in receiver.accepted()] == [one["change_id"]]


def test_a_redirect_is_not_followed(hooks_app, client, tx, engine, receiver):
    headers = key_headers(tx)
    sub = subscribe(client, headers, receiver.url)
    receiver.status, receiver.location = 302, "http://169.254.169.254/latest/meta-data/"
    assert client.post(f"/api/v1/subscriptions/{sub['id']}/test", headers=headers).status_code == 202
    report = deliver_pass(engine, settings_of(hooks_app))
    assert report.retrying == 1 and len(receiver.requests) == 1
    log = client.get(f"/api/v1/subscriptions/{sub['id']}/deliveries", headers=headers).get_json()
    assert "redirect not followed" in log["deliveries"][0]["last_error"]


def test_a_killed_worker_loses_nothing_and_resends_nothing_acknowledged(
    hooks_app, client, tx, engine, db_url, tmp_path
):
    receiver = Receiver().start()
    receiver.hold, receiver.hold_seconds = {3}, 30.0  # the worker is killed while the third POST waits
    try:
        headers = key_headers(tx)
        firms = [watched_firm(tx, client, headers) for _ in range(3)]
        subscribe(client, headers, receiver.url)
        for firm in firms:
            penalise_and_list(tx, firm)
        expected = sorted(i for f in firms for i in firm_changes(engine, f.uscc))
        assert len(expected) >= 6
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "SECRET_KEY": hooks_app.config["SECRET_KEY"],
            "SIGNING_KEY_DIR": str(hooks_app.config["SIGNING_KEY_DIR"]),
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
            "WEBHOOK_LEASE_SECONDS": "600",
            "CREDIT_INSTANCE_DIR": str(tmp_path / "instance"),
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "credit", "deliver"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while len(receiver.requests) < 3:
                assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
                assert time.monotonic() < deadline, "the worker sent nothing"
                time.sleep(0.05)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        with engine.connect() as conn:
            acknowledged = set(
                conn.execute(select(WebhookDelivery.outbox_id).where(WebhookDelivery.status == "delivered")).scalars()
            )
        assert len(acknowledged) == 2
        receiver.hold = set()
        # The killed worker's leases run out (the clock moved past them); another pass sends the rest.
        report = deliver_pass(engine, settings_of(hooks_app), now=utcnow() + timedelta(seconds=601))
        assert report.delivered == len(expected) - 2
        received = [json.loads(r["body"])["id"] for r in receiver.requests]
        assert sorted(set(received)) == expected  # nothing lost
        for change_id in acknowledged:
            assert received.count(change_id) == 1  # nothing acknowledged sent again
        assert len(received) <= len(expected) + 1  # at most the one in flight arrived twice
    finally:
        receiver.stop()


def test_url_policy_refuses_what_the_admin_did_not_allow():
    nothing = UrlPolicy()
    intranet = UrlPolicy.from_config("hooks.fgw.gov.cn,*.czj.gov.cn", "10.20.0.0/16")
    for url in ("ftp://hooks.fgw.gov.cn/", "http://user:pw@hooks.fgw.gov.cn/", "http:///x", "file:///etc/passwd"):
        with pytest.raises(UrlRefused):
            check_url(url, intranet)
    for url in ("http://127.0.0.1/", "http://localhost/", "http://169.254.169.254/", "http://10.20.1.1/"):
        with pytest.raises(UrlRefused):
            check_url(url, nothing)
    assert check_url("https://hooks.fgw.gov.cn/in", intranet)
    assert check_url("https://a.czj.gov.cn/in", intranet)
    assert check_url("http://10.20.3.4:8080/in", intranet)
    with pytest.raises(UrlRefused):
        check_url("http://10.30.3.4/", intranet)

    def rebinding(address: str):
        return lambda host, port: [address]

    # An allowed name that resolves (now) to loopback, link-local or a private address outside the
    # allowed networks is refused at send time; a public address or one in the networks is used.
    for bad in ("127.0.0.1", "169.254.169.254", "192.168.1.5", "::1"):
        with pytest.raises(UrlRefused):
            resolve_target("https://hooks.fgw.gov.cn/in", intranet, rebinding(bad))
    assert (
        resolve_target("https://hooks.fgw.gov.cn/in", intranet, rebinding("202.96.134.133")).address == "202.96.134.133"
    )
    assert resolve_target("https://x.internal/in", intranet, rebinding("10.20.0.9")).address == "10.20.0.9"


def test_watch_and_subscription_api(hooks_app, client, tx, engine):
    headers = key_headers(tx)
    with tx() as s:
        firm = make_firm(s)
    assert client.get("/api/v1/watch", headers=key_headers(tx, "check")).status_code == 403
    assert client.put("/api/v1/watch/91440300192203821X", headers=headers).status_code == 422
    assert client.put("/api/v1/watch/91310110666007217T", headers=headers).status_code == 404  # not on file
    assert client.get(f"/api/v1/watch/{firm.uscc}", headers=headers).status_code == 404
    assert client.put(f"/api/v1/watch/{firm.uscc}", headers=headers).status_code == 201
    assert client.put(f"/api/v1/watch/{firm.uscc}", headers=headers).status_code == 200
    page = client.get("/api/v1/watch?per_page=10", headers=headers).get_json()
    assert page["total"] == 1 and page["watch"][0]["uscc"] == firm.uscc and page["watch"][0]["name"] == firm.name
    assert client.get("/api/v1/watch?per_page=0", headers=headers).status_code == 422
    assert client.delete(f"/api/v1/watch/{firm.uscc}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/watch/{firm.uscc}", headers=headers).status_code == 404

    refused = client.post("/api/v1/subscriptions", json={"url": "http://192.168.0.1/x"}, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["error"] == "validation_failed"
    assert (
        client.post(
            "/api/v1/subscriptions", json={"url": "http://127.0.0.1/", "scope": "x"}, headers=headers
        ).status_code
        == 422
    )
    assert client.post("/api/v1/subscriptions", data="x", headers=headers).status_code == 400
    sub = subscribe(client, headers, "http://127.0.0.1:9/in", scope="all")
    assert sub["secret"].startswith("whsec_")
    shown = client.get(f"/api/v1/subscriptions/{sub['id']}", headers=headers).get_json()
    assert "secret" not in shown and shown["scope"] == "all"
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT secret_encrypted FROM webhook_subscription")).scalar()
        audit = conn.execute(text("SELECT after FROM audit_log WHERE entity = 'webhook_subscription'")).scalars().all()
    assert sub["secret"] not in stored and all(sub["secret"] not in str(a) for a in audit)
    other = key_headers_for(tx, "另一个部门")
    assert client.get(f"/api/v1/subscriptions/{sub['id']}", headers=other).status_code == 404
    assert client.get("/api/v1/subscriptions", headers=other).get_json()["subscriptions"] == []
    assert client.delete(f"/api/v1/subscriptions/{sub['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/subscriptions/{sub['id']}", headers=headers).get_json()["active"] is False
    assert client.post(f"/api/v1/subscriptions/{sub['id']}/test", headers=headers).status_code == 404


def key_headers_for(tx, department: str) -> dict[str, str]:
    with tx(Actor.system("test")) as s:
        token = create_api_key(s, department=department, scopes="watch").token
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("role", ["checker", "recorder", "reviewer"])
def test_the_webhook_overview_is_for_admins_only(client, auth, role):
    auth.login_as(role)
    assert client.get("/admin/webhooks").status_code in (302, 403)


def test_admins_see_every_subscription_with_its_deliveries(hooks_app, client, tx, engine, auth, receiver):
    headers = key_headers(tx)
    firm = watched_firm(tx, client, headers)
    subscribe(client, headers, receiver.url)
    penalise_and_list(tx, firm)
    receiver.status = 500
    deliver_pass(engine, settings_of(hooks_app))
    auth.login_as("admin")
    page = client.get("/admin/webhooks")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert DEPARTMENT in body and receiver.url in body
    pending = len(firm_changes(engine, firm.uscc))
    assert f"<td>{pending}</td>" in body  # all pending after the failed attempts
