"""A fixed-window request counter per API key, kept in the database so that every worker process
counts against the same limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, text
from sqlmodel import Session

from credit.models import ApiRate
from credit.services.raw_sql import RawStatements

_WINDOW = bindparam("window_start", type_=ApiRate.__table__.c.window_start.type)  # type: ignore[attr-defined]

# One statement, atomic on SQLite (≥ 3.35) and PostgreSQL alike: two workers counting the same window
# cannot both read the old value.
_HIT = text(
    "INSERT INTO api_rate (key_id, window_start, count) VALUES (:key_id, :window_start, 1) "
    "ON CONFLICT (key_id, window_start) DO UPDATE SET count = api_rate.count + 1 "
    "RETURNING count"
).bindparams(_WINDOW)
_PRUNE = text("DELETE FROM api_rate WHERE key_id = :key_id AND window_start < :window_start").bindparams(_WINDOW)


def window_start(now: datetime, seconds: int) -> datetime:
    """The start of the fixed window holding `now` (windows are aligned on the epoch)."""
    stamp = int(now.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, UTC)


_RAW = RawStatements()


def count_request(bind: Session | Connection, key_id: int, *, now: datetime, seconds: int) -> tuple[int, int]:
    """Count one request of `key_id`; returns (requests in this window so far, seconds until it ends).
    Flushes nothing else and never commits: the count is part of the caller's unit of work. On a Core
    connection (the check hot path) the statements run on the driver's cursor (credit.services.raw_sql)."""
    start = window_start(now, seconds)
    params = {"key_id": key_id, "window_start": start}
    if isinstance(bind, Session):
        conn = bind.connection()
        count = conn.execute(_HIT, params).scalar_one()
        if count == 1:  # first request of a new window: older windows of this key are spent
            conn.execute(_PRUNE, params)
    else:
        dialect = bind.dialect
        count = _RAW.get("hit", dialect, lambda: (_HIT, params)).execute(bind, params)[0][0]
        if count == 1:
            prune_windows(bind, key_id, start)
    return count, seconds_left(start, now, seconds)


def prune_windows(conn: Connection, key_id: int, start: datetime) -> None:
    """Forget the key's windows before `start` (spent) on a Core connection."""
    params = {"key_id": key_id, "window_start": start}
    _RAW.get("prune", conn.dialect, lambda: (_PRUNE, params)).execute(conn, params)


def seconds_left(start: datetime, now: datetime, seconds: int) -> int:
    """Whole seconds until the window that started at `start` ends (at least 1): the Retry-After."""
    remaining = start + timedelta(seconds=seconds) - now
    return max(1, int(-(-remaining.total_seconds() // 1)))
