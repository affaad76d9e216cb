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

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, request
from sqlalchemy import Connection, event
from sqlmodel import Session

from credit.db import WRITE_OPTION, begin_write, is_sqlite, retry_write
from credit.models import utcnow
from credit.services.ratelimit import count_request
from credit.web.api.auth import api_error, current_key
from credit.web.db import engine, get_session

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
    """A hot-path request's database work on one Core connection: the view reads first (a deferred
    transaction: no lock), then `write` counts the request and logs the answer in one short write
    transaction with one COMMIT. The write lock (SQLite) or the counter row's lock (PostgreSQL) is held
    for the upsert, the insert and the commit only, not for the read."""

    def __init__(self, conn: Connection, limit: int, seconds: int) -> None:
        self.conn, self.limit, self.seconds = conn, limit, seconds
        self.counted = False

    def write(self, log: Callable[[Connection], Any] | None = None) -> Any:
        """Count the request and run `log` in one transaction; the 429 response instead when the key's
        window is used up (then nothing is written)."""
        conn = self.conn
        if conn.in_transaction():
            conn.rollback()  # the read's snapshot ends; SQLite could not turn it into a write
        if is_sqlite(conn.engine):
            conn.execution_options(**{WRITE_OPTION: True})  # this connection only, from here on
        with conn.begin() as transaction:
            self.counted = True
            if self.limit > 0:
                count, retry_after = count_request(conn, current_key().id, now=utcnow(), seconds=self.seconds)  # type: ignore[arg-type]
                if count > self.limit:
                    transaction.rollback()
                    return too_many(self.limit, self.seconds, retry_after)
            return log(conn) if log is not None else None


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

        def unit():
            with engine().connect() as conn:
                hot = g.hot_unit = HotUnit(conn, limit, seconds)
                try:
                    response = view(*args, **kwargs)
                finally:
                    del g.hot_unit
                if response.status_code == 401:
                    if conn.in_transaction():
                        conn.rollback()
                    return response
                if not hot.counted:
                    refused = hot.write()
                    if refused is not None:
                        return refused
                return response

        return retry_write(unit)

    return wrapped
