"""Fixtures: a fresh real database per test (SQLite by default, PostgreSQL when TEST_DATABASE_URL is set),
the app on it, a test client and a helper to log in as any role."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Real password hashing, at a cost fit for a test suite that logs in a thousand times (must be set before
# credit.services.users is imported).
os.environ.setdefault("PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")

# Time is an input: the whole suite runs on one fixed "today", whatever the wall clock says, and so do the
# processes it starts (they inherit CREDIT_TODAY). Tests that need another day use clock.today_is().
os.environ["CREDIT_TODAY"] = "2026-11-22"
# Signing keys made by processes the suite starts (a live server, a CLI run) go to a directory of the
# run's own, never to the checkout's instance/signing (the `app` fixture sets one per test).
os.environ.setdefault("SIGNING_KEY_DIR", tempfile.mkdtemp(prefix="credit-test-signing-"))
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from config import TestConfig, normalise_database_url
from credit import clock
from credit.db import make_engine, new_session, session_scope
from credit.migrate import upgrade_to_head
from credit.models import Actor
from credit.services.calendar import load_package_calendar, package_years
from credit.web import create_app
from credit.web.db import dispose_engines
from tests.factories import make_user

TEST_TODAY = os.environ["CREDIT_TODAY"]
# What every test database holds before the test starts, as `flask credit init` leaves it: the loaded
# working-day calendar and its audit entries. Tests that count audit entries count the others.
SETUP_ENTITY = "calendar_year"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_PASSWORD = "correct-horse-42"
TESTER = Actor(label="tester", source="test")


# Screenshots of the browser tests are CI artifacts: kept under artifacts/screenshots (CREDIT_ARTIFACTS moves
# it) after the run, for a person to look at.
ARTIFACTS = Path(os.environ.get("CREDIT_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts"))


@pytest.fixture
def screenshot(request: pytest.FixtureRequest):
    """`screenshot(page, name)`: a full-page PNG at artifacts/screenshots/<test>-<name>.png; returns its path."""

    def take(page, name: str) -> Path:
        folder = ARTIFACTS / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^\w.-]+", "_", f"{request.node.name}-{name}")
        path = folder / f"{stem}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(autouse=True)
def fixed_today() -> Iterator[None]:
    """Every test starts on TEST_TODAY, even when the one before moved the clock."""
    clock.set_today(TEST_TODAY)
    yield
    clock.set_today(TEST_TODAY)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def create_pg_database(base_url: str, name: str) -> str:
    """A new empty PostgreSQL database `name` on the server of `base_url`; returns its URL."""
    url = make_url(normalise_database_url(base_url))
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head once per test process: an SQLite file to copy, or a PostgreSQL URL."""
    if PG_URL:
        base = make_url(normalise_database_url(PG_URL)).database or "credit_test"
        url = create_pg_database(PG_URL, f"{base}_{_worker()}")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    # As `flask credit init` does: the official working-day calendar the package covers (2004–2026).
    with session_scope(engine, Actor.system("init")) as s:
        load_package_calendar(s)
    engine.dispose()
    return url


# Emptying a PostgreSQL test database between tests. TRUNCATE of every table costs ~0.8 s (it makes new
# files for each table and its indexes); deleting the rows of the few tables a test wrote and restarting
# the sequences it used is the same end state in a few milliseconds. `session_replication_role = replica`
# (superuser, test databases only) lets the DELETE pass the append-only triggers and the foreign keys.
PG_RESET = """
DO $$
DECLARE
    t text;
    s record;
    filled boolean;
BEGIN
    SET LOCAL session_replication_role = replica;
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public'
             AND tablename NOT IN ('alembic_version', 'calendar_year') LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', t) INTO filled;
        IF filled THEN
            EXECUTE format('DELETE FROM %I', t);
        END IF;
    END LOOP;
    FOR s IN SELECT schemaname, sequencename FROM pg_sequences
             WHERE schemaname = 'public' AND last_value IS NOT NULL
             AND sequencename NOT LIKE 'calendar_year%' LOOP
        EXECUTE format('ALTER SEQUENCE %I.%I RESTART', s.schemaname, s.sequencename);
    END LOOP;
END $$;
"""


_reset_engines: dict[str, Engine] = {}


def _truncate_all(url: str) -> None:
    engine = _reset_engines.get(url) or _reset_engines.setdefault(url, make_engine(url))
    with engine.begin() as conn:
        conn.execute(text(PG_RESET))
        # The calendar stays as the template has it, unless the test before changed it (a new year or
        # version): then it is loaded again from the package.
        years, newest = conn.execute(text("SELECT COUNT(DISTINCT year), MAX(version) FROM calendar_year")).one()
        changed = (years, newest) != (len(package_years()), 1)
        if changed:
            conn.execute(text("TRUNCATE calendar_year RESTART IDENTITY"))
    if changed:
        with session_scope(engine, Actor.system("init")) as s:
            load_package_calendar(s)


@pytest.fixture
def db_url(database_template: str, tmp_path: Path) -> str:
    """A fresh database at head for this test."""
    if database_template.startswith("postgresql"):
        _truncate_all(database_template)
        return database_template
    source = Path(make_url(database_template).database or "")
    target = tmp_path / "test.db"
    shutil.copyfile(source, target)
    return f"sqlite:///{target}"


@pytest.fixture
def engine(db_url: str):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine):
    """A session acting as a test user, for tests that call services directly. Nothing is committed
    unless the test commits: on SQLite an open write transaction blocks the app, so tests that also
    go through HTTP or the CLI prepare their data with `tx` instead."""
    s = new_session(engine, Actor(label="tester", source="test"))
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def tx(engine):
    """`with tx() as s:` — a committed unit of work, for preparing data before HTTP or CLI calls."""

    def scope(actor: Actor = TESTER):
        return session_scope(engine, actor)

    return scope


@pytest.fixture
def app(db_url: str, tmp_path: Path):
    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = db_url
    config.SIGNING_KEY_DIR = tmp_path / "signing"
    application = create_app(config)
    yield application
    dispose_engines(application)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The session's CSRF token, read from a page as a browser would."""
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    if match is None and path != "/login":  # an anonymous visitor's public page carries none: a form page does
        match = CSRF_RE.search(client.get("/login").get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class AuthActions:
    def __init__(self, client, engine):
        self._client = client
        self._engine = engine

    def login(self, username: str = "admin", password: str = TEST_PASSWORD, *, follow: bool = False):
        token = csrf_token(self._client)
        return self._client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token},
            follow_redirects=follow,
        )

    def login_as(self, role: str):
        """Create a user with this role (named after it) and log in."""
        with session_scope(self._engine, Actor.system("test")) as s:
            make_user(s, username=role, role=role, password=TEST_PASSWORD)
        response = self.login(role)
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    def logout(self):
        return self._client.post("/logout", data={"csrf_token": csrf_token(self._client, "/")})


@pytest.fixture
def auth(client, engine) -> Iterator[AuthActions]:
    yield AuthActions(client, engine)


def post_form(client, path: str, data: dict, **kwargs):
    """Submit a form the way a browser does: with the CSRF token of the session."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/")}, **kwargs)
