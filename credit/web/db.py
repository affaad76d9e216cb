"""The database inside a request: one session per request, audited in the name of the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import Engine
from sqlmodel import Session

from credit.db import begin_write, make_engine, make_hot_engine, new_session
from credit.models import Actor


def init_app(app: Flask) -> None:
    url, echo = app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("SQL_ECHO", False)
    app.extensions["credit.engine"] = make_engine(url, echo=echo)
    app.extensions["credit.hot_engine"] = make_hot_engine(url, echo=echo) or app.extensions["credit.engine"]
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["credit.engine"]


def hot_engine() -> Engine:
    """The engine of the credit-check hot path (credit.db.make_hot_engine; the main one on SQLite)."""
    return current_app.extensions["credit.hot_engine"]


def dispose_engines(app: Flask) -> None:
    """Close every pooled connection of the app's engines (tests, shutdown)."""
    for name in ("credit.hot_engine", "credit.engine"):
        app.extensions[name].dispose()


def signing_key_dir() -> Path:
    """Where the private halves of the bureau's signing keys are (SIGNING_KEY_DIR)."""
    return Path(current_app.config["SIGNING_KEY_DIR"])


def current_actor(source: str = "web") -> Actor:
    """The signed-in user, or the anonymous public."""
    user = current_user._get_current_object() if current_user else None
    address = request.remote_addr if has_request_context() else None
    if user is not None and user.is_authenticated:
        return Actor(label=user.username, source=source, user_id=user.id, address=address)
    return Actor(label="anonymous", source=source, address=address)


def get_session() -> Session:
    """The request's session (opened on first use)."""
    if "db_session" not in g:
        g.db_session = new_session(engine(), Actor(label="anonymous", source="web"))
    return g.db_session


@contextmanager
def unit_of_work(actor: Actor | None = None) -> Iterator[Session]:
    """A write in the name of `actor` (default: the signed-in user or the public): commit when the
    block succeeds, roll back otherwise."""
    session = get_session()
    session.info["actor"] = actor or current_actor()
    begin_write(session)  # SQLite: BEGIN IMMEDIATE, so the write never fails half-way for the lock
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
