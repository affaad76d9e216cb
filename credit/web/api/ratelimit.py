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

from flask import current_app, g
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
    in the unit of work that holds the count. Goes under `key_required`, so only authenticated requests
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


def hot_connection() -> Connection:
    """The Core connection of a hot-path request (opened by `hot_rate_limited`)."""
    return g.hot_connection


def hot_rate_limited(view: Callable) -> Callable:
    """`rate_limited` for the check hot path, on a Core connection instead of an ORM session: BEGIN
    (IMMEDIATE on SQLite), the counter's upsert, the view's read and write, one COMMIT. A refused
    request is rolled back (not counted); so is a view's answer with status 401 (its key was revoked
    meanwhile). Retried as a whole while SQLite stays locked."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        limit = int(current_app.config.get("API_RATE_LIMIT", DEFAULT_LIMIT))
        seconds = int(current_app.config.get("API_RATE_WINDOW", DEFAULT_WINDOW))

        def unit():
            bind = engine()
            with bind.connect() as conn:
                if is_sqlite(bind):
                    conn = conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin() as transaction:
                    if limit > 0:
                        count, retry_after = count_request(conn, current_key().id, now=utcnow(), seconds=seconds)  # type: ignore[arg-type]
                        if count > limit:
                            transaction.rollback()
                            return too_many(limit, seconds, retry_after)
                    g.hot_connection = conn
                    try:
                        response = view(*args, **kwargs)
                    finally:
                        del g.hot_connection
                    if response.status_code == 401:
                        transaction.rollback()
                return response

        return retry_write(unit)

    return wrapped
