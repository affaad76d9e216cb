"""Engines and units of work, independent of Flask: the web app, the CLI, the scheduler and the tests all
open sessions the same way. A service takes a Session and flushes; whoever opened the unit of work commits.

SQLite as an embedded database that holds under concurrent web workers (docs/operations.md):
- WAL (readers never block the writer nor each other) with `synchronous=NORMAL` (durable at checkpoints,
  never corrupt);
- a unit of work that writes starts with `BEGIN IMMEDIATE` (`begin_write`): it takes the write lock
  up front, waiting for it under the busy timeout, instead of reading in a deferred transaction and then
  failing at once with "database is locked" when it needs to write (SQLite cannot wait to upgrade a read
  snapshot that another writer has moved past). Reads stay deferred and never wait;
- a busy timeout (`SQLITE_BUSY_TIMEOUT` seconds, default 10) for the lock, and `retry_write` re-runs a
  whole write unit a bounded number of times should the lock still not come;
- `optimize(engine)` after bulk loads: ANALYZE / `PRAGMA optimize`, so the planner knows the tables.

PostgreSQL: `pool_pre_ping` tests a pooled connection before each use, so after a restart or failover of
the server the app reconnects by itself; `DATABASE_CONNECT_TIMEOUT` (seconds, default 5) bounds a
connection attempt to a host that does not answer. `is_unavailable(exc)` tells an outage or a transient
refusal (the web app answers 503, the scheduler logs and tries again) from a fault in the code."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from credit.models.audit import Actor, install_audit_hooks

T = TypeVar("T")
# The execution option that makes SQLAlchemy open the transaction with BEGIN IMMEDIATE (SQLite).
WRITE_OPTION = "credit_write"
WRITE_ATTEMPTS = 3


def busy_timeout() -> float:
    """Seconds a SQLite connection waits for the write lock before giving up."""
    return float(os.environ.get("SQLITE_BUSY_TIMEOUT", "10"))


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for SQLite (WAL, synchronous=NORMAL, foreign keys on, busy timeout, BEGIN IMMEDIATE for
    write units) or PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # The driver's timeout is SQLite's busy handler: BEGIN IMMEDIATE waits up to it for the lock.
        engine = create_engine(url, echo=echo, connect_args={"timeout": busy_timeout()})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every sqlite test
            # Let SQLAlchemy, not the driver, open transactions: pysqlite opens none before a SAVEPOINT,
            # so releasing one would commit the whole unit of work (SQLAlchemy's documented recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout() * 1000)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection):  # pragma: no cover - exercised by every sqlite test
            if conn.get_execution_options().get(WRITE_OPTION):
                begin_immediate(conn.connection.dbapi_connection)
            else:
                conn.exec_driver_sql("BEGIN")

        return engine
    connect_args = {"connect_timeout": connect_timeout()} if parsed.get_backend_name() == "postgresql" else {}
    return create_engine(url, echo=echo, pool_pre_ping=True, connect_args=connect_args)


def connect_timeout() -> int:
    """Seconds a new PostgreSQL connection may take (libpq `connect_timeout`; without it a host that
    drops packets holds a worker for minutes)."""
    return max(1, int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5")))


# SQLite's messages for a database that cannot be used just now (held by a writer beyond the busy timeout,
# a file gone, a full or failing disk); its other OperationalErrors ("no such table", a syntax error) are
# faults of the code or the installation.
SQLITE_UNAVAILABLE = ("database is locked", "database is busy", "unable to open database", "disk i/o error")
SQLITE_UNAVAILABLE += ("database or disk is full",)


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot serve just now and the same request may succeed later: no
    connection (server down, restarting, refusing connections), a connection lost mid-way, the pool
    exhausted, or a transient refusal (SQLite locked; PostgreSQL serialization failure, deadlock,
    statement timeout). False for everything else, which is a fault to fix, not to wait out."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        return isinstance(orig, sqlite3.OperationalError) and any(m in str(orig).lower() for m in SQLITE_UNAVAILABLE)
    # psycopg (DB-API): OperationalError covers a failed connection (no SQLSTATE), classes 08 (connection
    # exception), 40 (serialization failure, deadlock), 53 (insufficient resources), 57 (operator
    # intervention: shutdown, cannot connect now, query cancelled); InterfaceError a closed connection.
    return isinstance(exc, OperationalError | InterfaceError)


def make_hot_engine(url: str, *, echo: bool = False) -> Engine | None:
    """PostgreSQL: a second engine for the credit-check hot path, its connections in autocommit mode (a
    read is one round trip, no BEGIN) and without the pre-ping round trip on every checkout: a connection
    the server dropped fails its first statement, SQLAlchemy then invalidates the pool, and the hot path
    retries a request that had written nothing once on a fresh connection
    (credit.web.api.ratelimit.hot_rate_limited). None on SQLite, where the main engine serves."""
    if make_url(url).get_backend_name() == "sqlite":
        return None
    return create_engine(url, echo=echo, isolation_level="AUTOCOMMIT", pool_pre_ping=False)


def begin_immediate(dbapi_conn, *, first_pause: float = 0.0001, max_pause: float = 0.001) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock by polling every 0.1–1 ms up to the busy timeout.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries: under two web workers
    that take turns every millisecond, a waiter sleeps far longer than the lock is held (issue 10: p99 of
    hundreds of ms). Polling wakes within a fraction of a millisecond of the release."""
    cursor = dbapi_conn.cursor()
    timeout = busy_timeout()
    deadline = time.monotonic() + timeout
    pause = first_pause
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:  # as SQLAlchemy would have wrapped the driver's error
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
            time.sleep(pause)
            pause = min(pause * 1.5, max_pause)
    finally:
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.close()


def is_sqlite(bind: Engine | Connection | Session) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "sqlite"


def begin_write(session: Session) -> None:
    """Declare that this session's unit of work will write: on SQLite its transaction opens with
    BEGIN IMMEDIATE (waiting for the write lock, never failing half-way for it). A read transaction
    already open with nothing pending is ended first (it read a snapshot a writer may have moved past);
    one that already wrote keeps its lock. No-op on PostgreSQL, and when already writing."""
    if not is_sqlite(session) or session.info.get(WRITE_OPTION):
        return
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            return
        session.commit()  # ends a read-only transaction: nothing to write
    session.connection(execution_options={WRITE_OPTION: True})
    session.info[WRITE_OPTION] = True


def _reset_write_flag(session: Session, *_args) -> None:
    session.info.pop(WRITE_OPTION, None)


def is_locked(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "database is busy": the write lock did not come in time."""
    if isinstance(exc, OperationalError):
        exc = exc.orig  # type: ignore[assignment]
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in str(exc).lower() for word in ("database is locked", "database is busy")
    )


def retry_write(unit: Callable[[], T], *, attempts: int = WRITE_ATTEMPTS, pause: float = 0.05) -> T:
    """Run a whole write unit (a function that opens, writes and commits its own transaction), again up
    to `attempts` times while SQLite reports the database locked. The unit must be safe to re-run: its
    transaction was rolled back, so nothing of a failed attempt remains."""
    for attempt in range(1, attempts + 1):
        try:
            return unit()
        except (OperationalError, sqlite3.OperationalError) as exc:
            if attempt == attempts or not is_locked(exc):
                raise
            time.sleep(pause * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def optimize(bind: Engine | Connection | Session) -> None:
    """Refresh the planner's statistics after a bulk load (import, demo, assessment of every firm):
    `ANALYZE` then `PRAGMA optimize` on SQLite, `ANALYZE` on PostgreSQL. Without statistics SQLite picks
    a poor index for the per-firm lookups (issue 10). On a Session it runs in the session's transaction;
    on an Engine in a transaction of its own."""
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            optimize(conn)
        return
    statements = ["ANALYZE", "PRAGMA optimize"] if is_sqlite(bind) else ["ANALYZE"]
    for statement in statements:
        bind.execute(text(statement))


def new_session(engine: Engine, actor: Actor) -> Session:
    """A session whose writes are audited in the name of `actor`."""
    session = Session(engine, expire_on_commit=False)
    session.info["actor"] = actor
    event.listen(session, "after_commit", _reset_write_flag)
    event.listen(session, "after_rollback", _reset_write_flag)
    return session


@contextmanager
def session_scope(engine: Engine, actor: Actor, *, write: bool = True) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error. `write=False` for a unit that only
    reads (on SQLite it then takes no write lock)."""
    session = new_session(engine, actor)
    if write:
        begin_write(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


install_audit_hooks()


def ensure_statistics(bind: Engine | Connection | Session) -> bool:
    """`optimize` once on a database that has never been analysed (SQLite: no `sqlite_stat1`); True when it
    ran. Without statistics SQLite plans the city-wide assessment's per-firm subqueries on the status index:
    minutes instead of seconds at 100k firms (bench/check.py measured > 7 min against 13 s)."""
    if not is_sqlite(bind):
        return False
    probe = text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            analysed = conn.execute(probe).first() is not None
    else:
        analysed = bind.execute(probe).first() is not None
    if analysed:
        return False
    optimize(bind)
    return True


def lock_for_update(session: Session, obj: object) -> None:
    """Read `obj` again inside the writing transaction, its row locked until commit on PostgreSQL
    (`SELECT … FOR UPDATE`); on SQLite the unit of work already holds the write lock (`begin_write`).
    A decision then sees what another reviewer decided a moment before — never a copy read before the
    lock — so two decisions on one record give one decision and a clear refusal (issue 11, failure 6)."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    session.refresh(obj, with_for_update=True)
