"""A fixed-window request counter per API key, kept in the database so that every worker process
counts against the same limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, text
from sqlmodel import Session

from credit.models import ApiRate

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


def count_request(bind: Session | Connection, key_id: int, *, now: datetime, seconds: int) -> tuple[int, int]:
    """Count one request of `key_id`; returns (requests in this window so far, seconds until it ends).
    Flushes nothing else and never commits: the count is part of the caller's unit of work."""
    start = window_start(now, seconds)
    conn = bind.connection() if isinstance(bind, Session) else bind
    count = conn.execute(_HIT, {"key_id": key_id, "window_start": start}).scalar_one()
    if count == 1:  # first request of a new window: older windows of this key are spent
        conn.execute(_PRUNE, {"key_id": key_id, "window_start": start})
    remaining = start + timedelta(seconds=seconds) - now
    return count, max(1, int(-(-remaining.total_seconds() // 1)))
