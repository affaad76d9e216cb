"""Engines and units of work, independent of Flask: the web app, the CLI, the scheduler and the tests all
open sessions the same way. A service takes a Session and flushes; whoever opened the unit of work commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from credit.models.audit import Actor, install_audit_hooks


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for SQLite (WAL, foreign keys on, busy timeout) or PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every sqlite test
            # Let SQLAlchemy, not the driver, open transactions: pysqlite opens none before a SAVEPOINT,
            # so releasing one would commit the whole unit of work (SQLAlchemy's documented recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - exercised by every sqlite test
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def new_session(engine: Engine, actor: Actor) -> Session:
    """A session whose writes are audited in the name of `actor`."""
    session = Session(engine, expire_on_commit=False)
    session.info["actor"] = actor
    return session


@contextmanager
def session_scope(engine: Engine, actor: Actor) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = new_session(engine, actor)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


install_audit_hooks()
