"""Per-key rate limit of the API: a fixed window counted in the database, so it holds across workers and
hosts. `API_RATE_LIMIT` requests per `API_RATE_WINDOW` seconds (config.py; default 600 per 60); 0 turns
it off.

The count is exact under contention and costs no commit of its own: the request's unit of work opens
with the counter's upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING count`), which takes the write
lock on SQLite (BEGIN IMMEDIATE) or the counter row's lock on PostgreSQL until the unit commits, so two
workers can never read the same count; the view then runs in the same transaction and its commit
carries the count. A request over the limit is refused and rolled back (it does not count, so exactly
`limit` requests pass in a window). A request whose own unit is rolled back (a validation error) is
counted again in a short transaction of its own, so failing requests are limited too.

Why not Redis: the database is already shared by every worker, the count rides on the transaction the
check commits anyway, and an embedded installation has no Redis to run."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Any

from flask import Response, current_app, g, request
from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from credit.db import WRITE_OPTION, begin_write, is_sqlite, retry_write
from credit.models import utcnow
from credit.services.hot_checks import (
    Caller,
    HotAnswer,
    driver_transaction,
    key_use_due,
    log_answers,
    log_counted,
    log_rows,
    note_key_use,
)
from credit.services.ratelimit import count_request, prune_windows, seconds_left, window_start
from credit.services.signing import Signer
from credit.web.api.auth import api_error, current_key
from credit.web.db import get_session, hot_engine

DEFAULT_LIMIT = 600
DEFAULT_WINDOW = 60
PENDING = "credit.rate_pending"  # session.info: the count is in the open transaction, not committed yet
LOST = "credit.rate_lost"  # session.info: the transaction holding the count was rolled back


def _committed(session: Session) -> None:
    session.info.pop(PENDING, None)


def _rolled_back(session: Session) -> None:
    if session.info.pop(PENDING, None):
        session.info[LOST] = True


def _watch(session: Session) -> None:
    if not session.info.get("credit.rate_watch"):
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_rollback", _rolled_back)
        session.info["credit.rate_watch"] = True


def too_many(limit: int, seconds: int, retry_after: int):
    response = api_error(
        429, "rate_limited", f"请求过于频繁:每个密钥每 {seconds} 秒至多 {limit} 次,请 {retry_after} 秒后再试"
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def rate_limited(view: Callable) -> Callable:
    """Refuse with 429 (and `Retry-After`) once the calling key has used up its window, else run the view
    in the unit of work that holds the count (a GET view after the count has committed: it only reads). Goes under `key_required`, so only authenticated requests
    are counted. The whole unit is retried (credit.db.retry_write) should SQLite stay locked."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        limit = int(current_app.config.get("API_RATE_LIMIT", DEFAULT_LIMIT))
        seconds = int(current_app.config.get("API_RATE_WINDOW", DEFAULT_WINDOW))

        def unit():
            session = get_session()
            _watch(session)
            try:
                begin_write(session)
                if limit > 0:
                    count, retry_after = count_request(session, current_key().id, now=utcnow(), seconds=seconds)  # type: ignore[arg-type]
                    if count > limit:
                        session.rollback()
                        session.info.pop(LOST, None)  # refused: not counted
                        return too_many(limit, seconds, retry_after)
                    session.info[PENDING] = True
                if request.method == "GET":
                    # A view that only reads (the bulk list file can take seconds) must not hold the write
                    # lock: the count commits alone, its one commit, and the view reads in a deferred
                    # transaction of its own.
                    session.commit()
                response = view(*args, **kwargs)
                if session.in_transaction():
                    session.commit()
                if session.info.pop(LOST, False):  # the view rolled its unit back: count the request alone
                    begin_write(session)
                    count_request(session, current_key().id, now=utcnow(), seconds=seconds)  # type: ignore[arg-type]
                    session.commit()
                return response
            except BaseException:
                session.rollback()
                session.info.pop(LOST, None)
                raise

        return retry_write(unit)

    return wrapped


class HotUnit:
    """A hot-path request's database work on one Core connection: the view reads first (no lock), then
    `log` counts the request and logs the answers in one short write with one commit.

    SQLite: the read runs in the driver's autocommit mode (no transaction to end), the write in a
    BEGIN IMMEDIATE transaction holding the write lock for the upsert, the insert and the commit only.
    PostgreSQL: the connection is in autocommit mode for the request, so the read is one round trip
    (no BEGIN) and a single check's count and log row are one statement (`log_counted`): one round trip
    and one commit; a batch, or a write with no limit, runs in an explicit transaction."""

    def __init__(self, conn: Connection, limit: int, seconds: int) -> None:
        self.conn, self.limit, self.seconds = conn, limit, seconds
        self.counted = False
        self.postgres = not is_sqlite(conn.engine)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        conn = self.conn
        if self.postgres:
            with driver_transaction(conn):
                yield
            return
        if conn.in_transaction():
            conn.rollback()  # a read of the live path (deferred): SQLite could not turn it into a write
        conn.execution_options(**{WRITE_OPTION: True})  # this connection only, from here on
        with conn.begin():
            yield

    def log(
        self,
        answers: Sequence[HotAnswer],
        caller: Caller,
        *,
        signer: Callable[[Connection], Signer],
        cached_signer: Signer | None = None,
    ) -> list[dict[str, Any]] | Response:
        """Count the request and log the answers, signed; the rows written (`log_rows`), or the 429
        response when the key's window is used up (then nothing is written). `signer(conn)` is asked
        inside the write's transaction (a first signing key it makes commits with the answers it signed);
        PostgreSQL's one-statement path is taken only with the process's `cached_signer`."""
        key = caller.api_key
        if self.postgres and self.limit > 0 and len(answers) == 1 and key is not None and cached_signer is not None:
            rows = log_rows(answers, caller, signer=cached_signer)
            now = utcnow()
            start = window_start(now, self.seconds)
            self.counted = True
            count = log_counted(self.conn, rows[0], key_id=key.id, window_start=start, limit=self.limit)
            if count is None:
                return too_many(self.limit, self.seconds, seconds_left(start, now, self.seconds))
            if count == 1 or key_use_due(key, now):
                with self._transaction():
                    if count == 1:
                        prune_windows(self.conn, key.id, start)
                    note_key_use(self.conn, key, now)
            return rows

        return self.write(lambda conn: log_answers(conn, answers, caller, signer=signer(conn)))

    def write(self, log: Callable[[Connection], Any] | None = None) -> Any:
        """Count the request and run `log` in one transaction; the 429 response instead when the key's
        window is used up (then nothing is written)."""
        conn = self.conn
        self.counted = True
        try:
            with self._transaction():
                if self.limit > 0:
                    count, retry_after = count_request(conn, current_key().id, now=utcnow(), seconds=self.seconds)  # type: ignore[arg-type]
                    if count > self.limit:
                        raise _Refused(retry_after)
                return log(conn) if log is not None else None
        except _Refused as refused:
            return too_many(self.limit, self.seconds, refused.retry_after)


class _Refused(Exception):
    """Over the limit: the write's transaction is rolled back (nothing counted, nothing logged)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after


def hot_unit() -> HotUnit:
    """The hot-path unit of this request (opened by `hot_rate_limited`)."""
    return g.hot_unit


def hot_connection() -> Connection:
    """The Core connection of a hot-path request."""
    return g.hot_unit.conn


def hot_rate_limited(view: Callable) -> Callable:
    """`rate_limited` for the check hot path, on a Core connection instead of an ORM session (`HotUnit`):
    the view reads, then writes its log through `hot_unit().write`, which counts the request in the
    same transaction. A view that answers without writing (404, 422, 403) is counted in a transaction
    of its own; a 401 (its key revoked meanwhile) is not counted. Retried as a whole while SQLite stays
    locked."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        limit = int(current_app.config.get("API_RATE_LIMIT", DEFAULT_LIMIT))
        seconds = int(current_app.config.get("API_RATE_WINDOW", DEFAULT_WINDOW))

        wrote = [False]

        def unit():
            with hot_engine().connect() as conn:
                hot = g.hot_unit = HotUnit(conn, limit, seconds)
                try:
                    response = view(*args, **kwargs)
                finally:
                    wrote[0] = hot.counted
                    del g.hot_unit
                if response.status_code == 401:
                    if conn.in_transaction():
                        conn.rollback()
                    return response
                if not hot.counted:
                    wrote[0] = True
                    refused = hot.write()
                    if refused is not None:
                        return refused
                return response

        def once_more_if_dropped():
            # The hot engine does not ping a connection before use: one the server dropped (a restart)
            # fails its first statement and SQLAlchemy invalidates the pool. A request that failed so
            # before it wrote anything runs again, once, on a fresh connection.
            try:
                return retry_write(unit)
            except DBAPIError as exc:
                if not exc.connection_invalidated or wrote[0]:
                    raise
                return retry_write(unit)

        return once_more_if_dropped()

    return wrapped
