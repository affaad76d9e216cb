"""SQLite as an embedded database under concurrent writers (credit.db): WAL and synchronous=NORMAL, a busy
timeout, BEGIN IMMEDIATE for units that write while reads stay deferred, bounded retry of a locked
write unit, and `optimize` after bulk loads."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import func, select

from credit.db import (
    begin_write,
    ensure_statistics,
    is_locked,
    make_engine,
    new_session,
    optimize,
    retry_write,
    session_scope,
)
from credit.models import Actor, Firm
from tests.factories import make_firm

ACTOR = Actor(label="tester", source="test")


@pytest.fixture
def sqlite_url(db_url: str) -> str:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    return db_url


def test_pragmas(sqlite_url, monkeypatch):
    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT", "2.5")
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_a_write_unit_takes_the_lock_up_front_and_reads_still_run(sqlite_url, monkeypatch):
    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT", "0.2")
    engine = make_engine(sqlite_url)
    writer = new_session(engine, ACTOR)
    begin_write(writer)  # BEGIN IMMEDIATE: the lock is held before anything is written
    try:
        reader = new_session(engine, ACTOR)
        assert reader.exec(text("SELECT COUNT(*) FROM firm")).one()[0] == 0  # deferred: never waits
        reader.close()
        other = new_session(engine, ACTOR)
        with pytest.raises(OperationalError) as caught:
            begin_write(other)  # a second writer waits for the busy timeout, then is told "locked"
        assert is_locked(caught.value)
        other.rollback()
        other.close()
    finally:
        writer.rollback()
        writer.close()
    engine.dispose()


def test_a_read_transaction_is_ended_before_a_write_begins(sqlite_url):
    engine = make_engine(sqlite_url)
    with session_scope(engine, ACTOR) as session:
        make_firm(session)
    session = new_session(engine, ACTOR)
    assert session.exec(select(func.count()).select_from(Firm)).one() == 1  # opens a deferred read transaction
    with session_scope(engine, ACTOR) as other:  # another writer moves the database on
        make_firm(other)
    begin_write(session)  # a deferred transaction could not upgrade now; begin_write starts afresh
    make_firm(session)
    session.commit()
    assert session.exec(select(func.count()).select_from(Firm)).one() == 3
    session.close()
    engine.dispose()


def test_retry_write_runs_a_locked_unit_again(sqlite_url, monkeypatch):
    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT", "0.1")
    engine = make_engine(sqlite_url)
    holder = new_session(engine, ACTOR)
    begin_write(holder)
    attempts = []

    def unit() -> int:
        attempts.append(1)
        if len(attempts) == 2:  # the lock goes away during the second attempt's wait
            threading.Timer(0.02, holder.rollback).start()
        with session_scope(engine, ACTOR) as session:
            return make_firm(session).id

    assert retry_write(unit, attempts=4, pause=0.05) is not None
    assert 2 <= len(attempts) <= 4
    holder.close()

    def always_locked() -> None:
        raise OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))

    calls = []
    with pytest.raises(OperationalError):
        retry_write(lambda: calls.append(1) or always_locked(), attempts=3, pause=0)
    assert len(calls) == 3  # bounded
    with pytest.raises(OperationalError):
        retry_write(
            lambda: calls.append(1) or (_ for _ in ()).throw(OperationalError("x", {}, Exception("no such table")))
        )
    assert len(calls) == 4  # anything else is not retried
    engine.dispose()


def test_optimize_gathers_statistics(engine):
    with session_scope(engine, ACTOR) as session:
        for _ in range(3):
            make_firm(session)
    optimize(engine)
    with session_scope(engine, ACTOR) as session:
        optimize(session)  # also inside a unit of work
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'firm'").scalar() >= 1
        else:
            assert conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'firm'").scalar() == 3


def test_ensure_statistics_runs_once(engine):
    if engine.dialect.name != "sqlite":
        assert ensure_statistics(engine) is False
        return
    with engine.connect() as conn:
        analysed = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    if analysed is None:
        assert ensure_statistics(engine) is True
    assert ensure_statistics(engine) is False  # analysed already: nothing to do
