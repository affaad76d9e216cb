"""Faults and recovery: while PostgreSQL is down the app answers a clean 503 (an HTML page or the API's
JSON, with Retry-After) and the scheduler logs the failed run and tries again; when the server is back
the same app object and the same engine serve again, without a restart.

Run against a throwaway cluster of the test's own (`tests/pgcluster.py`: initdb + pg_ctl on a free port),
stopped with `pg_ctl stop -m immediate` as a crash would; the shared server is never touched."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

import config as settings
from credit.db import is_unavailable, make_engine, session_scope
from credit.migrate import upgrade_to_head
from credit.models import Actor
from credit.scheduler.jobs import NIGHTLY_ASSESSMENT, JobContext
from credit.scheduler.runner import RETRY_MAX_SECONDS, _scheduled, retry_delay, retry_job_id, run_job
from credit.services.rulesets import ensure_default_ruleset
from credit.web import create_app
from credit.web.db import dispose_engines
from tests.conftest import TEST_PASSWORD, csrf_token
from tests.factories import make_firm, make_user
from tests.pgcluster import REQUIRED, ThrowawayCluster, missing_reason

NO_CLUSTER = missing_reason()
if NO_CLUSTER and REQUIRED:
    raise RuntimeError(f"CREDIT_REQUIRE_PG_BINARIES=1 but {NO_CLUSTER}")
needs_cluster = pytest.mark.skipif(NO_CLUSTER is not None, reason=NO_CLUSTER or "")


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    if NO_CLUSTER:
        pytest.skip(NO_CLUSTER)
    pg = ThrowawayCluster()
    pg.start()
    admin = create_engine(pg.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE credit_faults"))
    admin.dispose()
    engine = make_engine(pg.database_url("credit_faults"))
    upgrade_to_head(engine)
    with session_scope(engine, Actor.system("init")) as s:
        ensure_default_ruleset(s)
        make_user(s, username="admin", role="admin", password=TEST_PASSWORD)
        make_firm(s)
    engine.dispose()
    try:
        yield pg
    finally:
        pg.remove()


@pytest.fixture
def running(cluster: ThrowawayCluster) -> ThrowawayCluster:
    """The cluster, up (a test before may have left it down)."""
    if not cluster.running():
        cluster.start()
    return cluster


@pytest.fixture
def pg_app(running: ThrowawayCluster, tmp_path):
    config = settings.TestConfig()
    config.SQLALCHEMY_DATABASE_URI = running.database_url("credit_faults")
    config.SIGNING_KEY_DIR = tmp_path / "signing"
    application = create_app(config)
    yield application
    dispose_engines(application)


def login(client) -> None:
    token = csrf_token(client)
    response = client.post("/login", data={"username": "admin", "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


PAGES = ("/", "/lists/black", "/publications", "/admin/", "/admin/users")
API = ("/api/v1/publications", "/api/v1/signing-keys")


def assert_unavailable_page(response, *, english: bool = False) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 503, body[:500]
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "30"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Traceback" not in body and "psycopg" not in body and "OperationalError" not in body
    if english:
        assert "The database cannot be reached just now" in body
    else:
        assert "系统暂时无法访问数据库" in body and 'lang="zh-CN"' in body


@needs_cluster
def test_pages_and_api_answer_503_while_postgresql_is_down_and_recover_without_restart(pg_app, running, caplog):
    client = pg_app.test_client()
    login(client)
    for path in (*PAGES, *API):
        assert client.get(path).status_code == 200, path
    engine = pg_app.extensions["credit.engine"]

    running.stop()  # -m immediate: every pooled connection dies with the server
    caplog.set_level(logging.ERROR)
    for path in PAGES:
        assert_unavailable_page(client.get(path))
    for path in API:
        response = client.get(path)
        assert response.status_code == 503 and response.headers["Retry-After"] == "30"
        assert response.get_json()["error"] == "service_unavailable"
        assert response.get_json()["message"] == "系统暂时无法访问数据库，请稍后再试。"
    anonymous = pg_app.test_client()
    anonymous.set_cookie("lang", "en")
    assert_unavailable_page(anonymous.get("/"), english=True)
    # A write while down: the form is answered, nothing half-done (the log-in page itself needs no data).
    token = csrf_token(anonymous)
    refused = anonymous.post("/login", data={"username": "admin", "password": TEST_PASSWORD, "csrf_token": token})
    assert_unavailable_page(refused, english=True)
    assert any("database unavailable" in record.getMessage() for record in caplog.records)

    running.start()
    assert pg_app.extensions["credit.engine"] is engine  # the same app, the same engine: no restart
    for path in (*PAGES, *API):
        assert client.get(path).status_code == 200, path  # the staff session survived the outage
    assert (
        anonymous.post("/login", data={"username": "admin", "password": TEST_PASSWORD, "csrf_token": token}).status_code
        == 302
    )


@needs_cluster
def test_a_credit_check_answers_503_json_while_down(pg_app, running):
    from credit.services.apikeys import create_api_key

    engine = pg_app.extensions["credit.engine"]
    with session_scope(engine, Actor.system("test")) as s:
        firm = make_firm(s)
        key = create_api_key(s, department="发改局", scopes="check").token
    client = pg_app.test_client()
    path = f"/api/v1/credit/{firm.uscc}?purpose=permit"
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get(path, headers=headers).status_code == 200
    running.stop()
    response = client.get(path, headers=headers)
    assert response.status_code == 503 and response.get_json()["error"] == "service_unavailable"
    assert response.headers["Cache-Control"] == "no-store"
    running.start()
    assert client.get(path, headers=headers).status_code == 200


@needs_cluster
def test_a_scheduler_run_during_an_outage_is_logged_and_the_next_run_succeeds(running, caplog):
    engine = make_engine(running.database_url("credit_faults"))
    ctx = JobContext(engine=engine, today=date(2026, 11, 22))
    try:
        assert run_job(NIGHTLY_ASSESSMENT, ctx) is True
        running.stop()
        caplog.set_level(logging.INFO, logger="credit.scheduler")
        assert run_job(NIGHTLY_ASSESSMENT, ctx) is False  # never raises: the process keeps running
        assert any("job assessment failed" in r.getMessage() for r in caplog.records)
        running.start()
        assert run_job(NIGHTLY_ASSESSMENT, ctx) is True  # the same engine reconnects
    finally:
        engine.dispose()


@needs_cluster
def test_a_failed_scheduled_run_is_tried_again_later(running):
    from apscheduler.schedulers.background import BackgroundScheduler

    engine = make_engine(running.database_url("credit_faults"))
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")  # not started: we only look at what is planned
    try:
        running.stop()
        assert _scheduled(NIGHTLY_ASSESSMENT, engine, "monthly", lambda: date(2026, 11, 22), scheduler) is False
        retry = scheduler.get_job(retry_job_id(NIGHTLY_ASSESSMENT))
        assert retry is not None and retry.args[-1] == 60
        running.start()
        assert _scheduled(NIGHTLY_ASSESSMENT, engine, "monthly", lambda: date(2026, 11, 22), scheduler, 60) is True
    finally:
        engine.dispose()


def test_retries_back_off_to_an_hour():
    delays = [retry_delay(None)]
    while delays[-1] < RETRY_MAX_SECONDS:
        delays.append(retry_delay(delays[-1]))
    assert delays[:4] == [60, 120, 240, 480] and delays[-1] == 3600
    assert retry_delay(3600) == 3600


def test_an_unreachable_server_is_unavailable_and_a_missing_table_is_a_fault(tmp_path):
    from credit.db import connect_timeout
    from tests.pgcluster import free_port

    assert connect_timeout() == 5
    nobody = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/credit")  # nothing listens
    with pytest.raises(OperationalError) as refused, nobody.connect():
        pass
    assert is_unavailable(refused.value)
    nobody.dispose()
    engine = make_engine("sqlite:///" + str(tmp_path / "x.db"))
    with pytest.raises(OperationalError) as missing, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert not is_unavailable(missing.value)
    engine.dispose()
    (tmp_path / "file").write_text("a file where a directory should be")
    unopenable = create_engine("sqlite:///" + str(tmp_path / "file" / "x.db"))
    with pytest.raises(OperationalError) as cannot_open, unopenable.connect():
        pass
    assert is_unavailable(cannot_open.value)
    assert not is_unavailable(ValueError("not a database error"))


def test_a_command_while_the_database_is_down_says_so_in_one_line(tmp_path):
    from tests.pgcluster import free_port

    config = settings.TestConfig()
    config.SQLALCHEMY_DATABASE_URI = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/credit"
    config.SIGNING_KEY_DIR = tmp_path / "signing"
    application = create_app(config)
    result = application.test_cli_runner().invoke(args=["credit", "verify"])
    assert result.exit_code == 1
    assert result.output.startswith("错误: 数据库暂时无法访问，未作任何更改")
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
