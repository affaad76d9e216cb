"""Two people deciding the same thing at the same moment, through real gunicorn workers (issue 11, failure
6): one decision is taken, the other reviewer is told it was taken by someone else — never a 500, never two
decisions. 40 log-ins at once all get in. On SQLite (BEGIN IMMEDIATE, busy timeout, the row read again
under the lock) and on PostgreSQL (SELECT … FOR UPDATE)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlmodel import Session, col, select

from credit.db import make_engine, session_scope
from credit.models import Actor, AuditEntry, CreditEvent, Listing, Petition
from credit.services.events import record_event
from credit.services.users import get_user
from tests.conftest import TEST_PASSWORD
from tests.factories import make_firm, make_user
from tests.test_check_concurrency import free_port, wait_until_up
from tests.test_due_process import objection, raw_event, served_proposal, staff

ROOT = Path(__file__).resolve().parent.parent
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
LOGINS = 40


@pytest.fixture
def server(db_url: str, tmp_path):
    """gunicorn, two workers, on the test database; yields a function that opens a logged-in session."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SECRET_KEY": "test-only",
        "CREDIT_INSTANCE_DIR": str(tmp_path / "instance"),
        "SIGNING_KEY_DIR": str(tmp_path / "signing"),
        "LOGIN_BACKOFF_SECONDS": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "60", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def log_in(base: str, username: str) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=60)
    token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    response = browser.post(
        f"{base}/login",
        data={"username": username, "password": TEST_PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=60,
    )
    return browser, response


def token_of(browser: requests.Session, base: str, path: str) -> str:
    return CSRF_RE.search(browser.get(f"{base}{path}", timeout=60).text).group(1)  # type: ignore[union-attr]


def at_once(base: str, jobs: list[tuple[str, str, str, dict]]) -> list[requests.Response]:
    """Each job (user, page, action, form) logged in and ready, then all POSTed at the same instant."""
    prepared = []
    for username, page, action, form in jobs:
        browser, response = log_in(base, username)
        assert response.status_code == 302, response.text
        prepared.append((browser, action, {**form, "csrf_token": token_of(browser, base, page)}))
    barrier = threading.Barrier(len(prepared))

    def post(job) -> requests.Response:
        browser, action, form = job
        barrier.wait()
        return browser.post(f"{base}{action}", data=form, timeout=60)  # follows the redirect to the page

    with ThreadPoolExecutor(len(prepared)) as pool:
        return list(pool.map(post, prepared))


def audit_status_changes(engine, entity: str, entity_id: int) -> list[dict]:
    with Session(engine) as s:
        rows = s.exec(
            select(AuditEntry).where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        ).all()
        return [r.after for r in rows if r.action == "update" and r.after and "status" in r.after]


def test_two_reviewers_deciding_one_record_at_once(server, db_url):
    engine = make_engine(db_url)
    with session_scope(engine, Actor.system("test")) as s:
        recorder, _ = staff(s)
        make_user(s, username="rev2", role="reviewer", display_name="赵审核")
        firm = make_firm(s)
        event_ids = [
            record_event(s, raw_event(firm.uscc, "interview", "2026-06-01", f"约-{i}"), recorder=recorder).id
            for i in range(3)
        ]
    for event_id, (first, second) in zip(
        event_ids, [("approve", "approve"), ("approve", "reject"), ("reject", "reject")], strict=True
    ):
        forms = {"approve": {"approve-note": ""}, "reject": {"reject-reason": "文书号与原件不符"}}
        page = f"/admin/events/{event_id}"
        responses = at_once(
            server,
            [
                ("rev", page, f"{page}/{first}", forms[first]),
                ("rev2", page, f"{page}/{second}", forms[second]),
            ],
        )
        assert [r.status_code for r in responses] == [200, 200]
        told = [r for r in responses if "已由" in r.text and "处理" in r.text and "不能再" in r.text]
        done = [r for r in responses if f"已审核通过 #{event_id}" in r.text or f"已驳回 #{event_id}" in r.text]
        assert (len(told), len(done)) == (1, 1), [r.text[:2000] for r in responses]
        with Session(engine) as s:
            event = s.get(CreditEvent, event_id)
            assert event.status in ("effective", "rejected")
        assert len(audit_status_changes(engine, "credit_event", event_id)) == 1
    engine.dispose()


def test_two_reviewers_deciding_one_listing_and_one_objection_at_once(server, db_url):
    engine = make_engine(db_url)
    with session_scope(engine, Actor.system("test")) as s:
        staff(s)
        make_user(s, username="rev2", role="reviewer", display_name="赵审核")
        listing = served_proposal(s)
        other = served_proposal(s)
        petition = objection(s, listing=other)
        listing_id, petition_id, other_id = listing.id, petition.id, other.id
    page = f"/admin/listings/{listing_id}"
    decide = {"decide-decision": "approve", "decide-note": ""}
    responses = at_once(server, [("rev", page, f"{page}/decide", decide), ("rev2", page, f"{page}/decide", decide)])
    assert [r.status_code for r in responses] == [200, 200]
    assert sum("已决定列入黑榜" in r.text for r in responses) == 1
    assert sum("已由" in r.text and "无需再作决定" in r.text for r in responses) == 1
    with Session(engine) as s:
        assert s.get(Listing, listing_id).status == "listed"
    assert len(audit_status_changes(engine, "listing", listing_id)) == 1

    page = f"/admin/petitions/{petition_id}"
    refuse = {"decide-decision": "refuse", "decide-reason": "理由不成立"}
    grant = {"decide-decision": "grant", "decide-reason": "处罚已被复议撤销"}
    responses = at_once(server, [("rev", page, f"{page}/decide", refuse), ("rev2", page, f"{page}/decide", grant)])
    assert [r.status_code for r in responses] == [200, 200]
    assert sum("已由" in r.text and "无需再作决定" in r.text for r in responses) == 1
    with Session(engine) as s:
        decided = s.get(Petition, petition_id)
        assert decided.status in ("refused", "granted")
        ended = s.get(Listing, other_id)
        assert (ended.status == "withdrawn") == (decided.status == "granted")
    assert len(audit_status_changes(engine, "petition", petition_id)) == 1
    engine.dispose()


def test_forty_log_ins_at_once_all_get_in(server, db_url):
    engine = make_engine(db_url)
    with session_scope(engine, Actor.system("test")) as s:
        for i in range(LOGINS):
            make_user(s, username=f"reviewer{i}", role="reviewer")
    barrier = threading.Barrier(LOGINS)

    def one(i: int) -> int:
        browser = requests.Session()
        token = CSRF_RE.search(browser.get(f"{server}/login", timeout=60).text).group(1)  # type: ignore[union-attr]
        barrier.wait()
        response = browser.post(
            f"{server}/login",
            data={"username": f"reviewer{i}", "password": TEST_PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(LOGINS) as pool:
        statuses = list(pool.map(one, range(LOGINS)))
    assert statuses == [302] * LOGINS, statuses
    with Session(engine) as s:
        logins = s.exec(select(AuditEntry).where(AuditEntry.action == "login")).all()
        assert len(logins) == LOGINS
        assert get_user(s, "reviewer0").last_login_at is not None
        assert not s.exec(select(AuditEntry).where(col(AuditEntry.action) == "login_failed")).all()
    engine.dispose()


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="SQLite's write lock")
def test_a_lock_held_past_the_busy_timeout_is_a_503_that_changed_nothing(db_url, tmp_path, monkeypatch):
    """Should the write lock still not come (another process holding it past the busy timeout), the
    visitor is told to retry (503, Retry-After) and nothing is written — never a 500."""
    import sqlite3

    from sqlalchemy.engine import make_url

    from config import TestConfig
    from credit.web import create_app

    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT", "0.2")
    engine = make_engine(db_url)
    with session_scope(engine, Actor.system("test")) as s:
        make_user(s, username="rev", role="reviewer")
    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = db_url
    config.SIGNING_KEY_DIR = tmp_path / "signing"
    app = create_app(config)
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    holder = sqlite3.connect(make_url(db_url).database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        response = client.post("/login", data={"username": "rev", "password": TEST_PASSWORD, "csrf_token": token})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert "系统正忙，您的操作未执行" in response.get_data(as_text=True)
    with Session(engine) as s:
        assert not s.exec(select(AuditEntry).where(AuditEntry.action == "login")).all()
    app.extensions["credit.engine"].dispose()
    engine.dispose()
