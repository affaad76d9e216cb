"""Backup and restore (`flask credit backup|restore`): a backup taken while another thread keeps writing is
one consistent point of the source's history; restored into a fresh database it verifies and holds the
same firms, events, audit entries and publications. On SQLite through the online backup API, on
PostgreSQL (when the suite runs there) through pg_dump/pg_restore into a new database on the same server."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

import config as settings
from credit.db import make_engine, session_scope
from credit.models import AuditEntry
from credit.services.backup import COUNTED, database_counts
from credit.services.events import approve_event, record_event
from credit.services.publications import publish_period
from credit.services.rulesets import ensure_default_ruleset
from credit.services.signing import signer_for
from credit.web import create_app
from tests.conftest import TESTER, create_pg_database
from tests.factories import make_firm
from tests.test_events import event_raw, staff
from tests.test_publications import make_listing

D = date.fromisoformat
SUMMARY = re.compile(r"企业 (\d+)，信用事件 (\d+)，审计日志 (\d+)，发布 (\d+)；审计链头 ([0-9a-f]{64})")


@pytest.fixture
def records(tx, app) -> None:
    """A small city: firms, effective and pending events, listings and two publications (sealed and signed
    with the test's key, as the scheduler and the CLI do)."""
    with tx() as s:
        ensure_default_ruleset(s)
        recorder, reviewer = staff(s, "recorder"), staff(s, "reviewer")
        firms = [make_firm(s) for _ in range(5)]
        for firm in firms[:3]:
            approve_event(s, record_event(s, event_raw(firm, "spot_check_pass"), recorder=recorder), reviewer)
        record_event(s, event_raw(firms[3], "penalty", severity="general"), recorder=recorder)
        make_listing(s, firms[0], "red", listed_from="2026-09-10", listed_until="2027-09-10")
        make_listing(s, firms[4], "black", listed_from="2026-08-08", listed_until="2029-08-08")
    for period in ("2026-09", "2026-10"):
        with tx() as s:
            signer = signer_for(s, Path(app.config["SIGNING_KEY_DIR"]))
            publish_period(s, period, published_by="tester", today=D("2026-11-22"), signer=signer)


def counts(engine) -> tuple[int, ...]:
    with Session(engine) as s:
        found = database_counts(s)
    return tuple(found[table] for table in COUNTED)


class Writer(threading.Thread):
    """Registers one firm per transaction, and after each commit notes the database's counts: the states
    the source passes through. Only this thread writes, so each noted state is one commit's."""

    def __init__(self, db_url: str) -> None:
        super().__init__(daemon=True)
        self.engine = make_engine(db_url)
        self.states = [counts(self.engine)]
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                with session_scope(self.engine, TESTER) as s:
                    make_firm(s)
                self.states.append(counts(self.engine))
                time.sleep(0.002)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.engine.dispose()

    def wait_for(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.states) < n:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.005)


@pytest.fixture
def fresh_target(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database to restore into: a file not yet there, or a new PostgreSQL database named
    after the test's own (dropped afterwards)."""
    if not db_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'restored' / 'credit.db'}"
        return
    name = f"{make_url(db_url).database}_restored"
    yield create_pg_database(db_url, name)
    admin = create_engine(make_url(db_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def app_on(url: str, tmp_path: Path):
    config = settings.TestConfig()
    config.SQLALCHEMY_DATABASE_URI = url
    config.SIGNING_KEY_DIR = tmp_path / "signing"
    return create_app(config)


def test_a_backup_taken_while_another_thread_writes_restores_to_the_same_records(
    runner, db_url, engine, records, tmp_path, fresh_target
):
    backup = tmp_path / ("credit.dump" if db_url.startswith("postgresql") else "credit-backup.db")
    writer = Writer(db_url)
    writer.start()
    try:
        writer.wait_for(4)  # three commits before the backup starts
        started_at = len(writer.states)
        result = runner.invoke(args=["credit", "backup", str(backup)])
        finished_at = len(writer.states)
        writer.wait_for(finished_at + 3)  # and more after it ended: it really ran while writing
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.error is None, writer.error
    assert result.exit_code == 0, result.output
    match = SUMMARY.search(result.output)
    assert match, result.output
    at_backup = tuple(int(n) for n in match.groups()[:4])
    # The backup is one commit of the source's history, one during the backup (not a torn mixture).
    assert at_backup in writer.states[started_at - 1 : finished_at + 1], (at_backup, writer.states)
    assert at_backup[0] > 5 and at_backup[3] == 2
    assert counts(engine)[0] > at_backup[0]  # the source went on after the backup point
    assert oct(backup.stat().st_mode & 0o777) == "0o600"

    restored_app = app_on(fresh_target, tmp_path)
    try:
        restored = restored_app.test_cli_runner()
        done = restored.invoke(args=["credit", "restore", str(backup)])
        assert done.exit_code == 0, done.output
        assert SUMMARY.search(done.output).groups() == match.groups()
        verify = restored.invoke(args=["credit", "verify"])
        assert verify.exit_code == 0, verify.output
        restored_engine = restored_app.extensions["credit.engine"]
        firms, events, audit_entries, publications = counts(restored_engine)
        # The same records; the audit log goes on with one entry for the restore itself.
        assert (firms, events, publications) == (at_backup[0], at_backup[1], at_backup[3])
        assert audit_entries == at_backup[2] + 1
        with Session(restored_engine) as s:
            last = s.exec(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()  # type: ignore[union-attr]
            assert last.action == "restore" and backup.name in (last.note or "")
            assert last.prev_hash == match.group(5)  # the chain continues from the backup's head
    finally:
        restored_app.extensions["credit.engine"].dispose()


def test_a_backup_never_overwrites_a_file(runner, records, tmp_path):
    existing = tmp_path / "keep.db"
    existing.write_text("an older backup")
    result = runner.invoke(args=["credit", "backup", str(existing)])
    assert result.exit_code == 1 and "已存在" in result.output
    assert existing.read_text() == "an older backup"
    assert not list(tmp_path.glob(".keep.db.partial"))


def sqlite_only(db_url: str) -> None:
    if db_url.startswith("postgresql"):
        pytest.skip("SQLite's restore: PostgreSQL restores into a new database only (tested above)")


def test_sqlite_restore_refuses_to_replace_data_without_replace(runner, app, db_url, engine, records, tmp_path):
    sqlite_only(db_url)
    backup = tmp_path / "b.db"
    assert runner.invoke(args=["credit", "backup", str(backup)]).exit_code == 0
    before = counts(engine)
    with session_scope(engine, TESTER) as s:
        make_firm(s)
    refused = runner.invoke(args=["credit", "restore", str(backup)])
    assert refused.exit_code == 1 and "--replace" in refused.output
    assert counts(engine)[0] == before[0] + 1  # nothing changed
    replaced = runner.invoke(args=["credit", "restore", str(backup), "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert counts(engine)[0] == before[0]  # the firm registered after the backup is gone: it is the backup
    assert runner.invoke(args=["credit", "verify"]).exit_code == 0


def test_a_tampered_or_foreign_backup_is_refused(runner, db_url, records, tmp_path):
    sqlite_only(db_url)
    backup = tmp_path / "b.db"
    assert runner.invoke(args=["credit", "backup", str(backup)]).exit_code == 0
    conn = sqlite3.connect(backup)  # an insider edits the copy: triggers dropped, a note rewritten
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_log'"
    ).fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute("UPDATE audit_log SET actor = 'someone else' WHERE id = 3")
    conn.commit()
    conn.close()
    target = tmp_path / "target"
    restored_app = app_on(f"sqlite:///{target / 'credit.db'}", tmp_path)
    try:
        refused = restored_app.test_cli_runner().invoke(args=["credit", "restore", str(backup)])
        assert refused.exit_code == 1 and "audit_log #3" in refused.output
        assert not (target / "credit.db").exists() or not counts(restored_app.extensions["credit.engine"])[0]
        garbage = tmp_path / "garbage.db"
        garbage.write_bytes(b"not a database at all" * 100)
        result = restored_app.test_cli_runner().invoke(args=["credit", "restore", str(garbage)])
        assert result.exit_code == 1 and "SQLite" in result.output
        assert (
            restored_app.test_cli_runner().invoke(args=["credit", "restore", str(tmp_path / "none.db")]).exit_code == 1
        )
    finally:
        restored_app.extensions["credit.engine"].dispose()


def test_postgresql_restore_refuses_a_database_with_tables(runner, db_url, records, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    dump = tmp_path / "credit.dump"
    assert runner.invoke(args=["credit", "backup", str(dump)]).exit_code == 0
    refused = runner.invoke(args=["credit", "restore", str(dump)])  # into the source database itself
    assert refused.exit_code == 1 and "空数据库" in refused.output
    with make_engine(db_url).connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM firm")).scalar_one() == 5
