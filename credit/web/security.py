"""Security of every request: role checks for views, the one safe-redirect helper, session timeouts,
response headers (CSP, framing, sniffing, referrer, HSTS) and no caching of staff pages."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request, abort, current_app, flash, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from credit.web.extensions import login_manager

STAFF = ("admin", "recorder", "reviewer")
# Blueprints whose pages show what only staff may see: never stored by a browser or a proxy.
STAFF_BLUEPRINTS = frozenset(
    {"admin", "records", "rules", "dueprocess", "announcements", "checks", "auth", "stats", "supervision"}
)
# The session's own clock: when the user proved who they are and when they were last seen (epoch seconds).
AUTH_AT, SEEN_AT = "auth_at", "seen_at"
SEEN_RESOLUTION = 60  # refresh "last seen" at most once a minute: not a new cookie on every request
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def roles_required(*roles: str) -> Callable:
    """Allow the view to users holding one of `roles`; with no roles, to any signed-in user."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorator


def safe_next(target: str | None) -> str | None:
    """A path on this site, or None: never an open redirect (`//host`, `/\\host`, a scheme) and never a
    header break (control characters)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def start_session() -> None:
    """Mark the moment a user proved who they are: the absolute timeout counts from here."""
    now = int(time.time())
    session[AUTH_AT] = now
    session[SEEN_AT] = now
    session.permanent = False


def _expired(now: int) -> str | None:
    idle = int(current_app.config["SESSION_IDLE_MINUTES"]) * 60
    absolute = int(current_app.config["SESSION_MAX_HOURS"]) * 3600
    auth_at, seen_at = session.get(AUTH_AT), session.get(SEEN_AT)
    if not isinstance(auth_at, int) or not isinstance(seen_at, int):
        return "unknown"
    if absolute and now - auth_at > absolute:
        return "absolute"
    if idle and now - seen_at > idle:
        return "idle"
    return None


def _check_session_age() -> None:
    if "_user_id" not in session:
        return
    now = int(time.time())
    reason = _expired(now)
    if reason is not None:
        logout_user()
        for key in (AUTH_AT, SEEN_AT):
            session.pop(key, None)
        if reason != "unknown":
            flash(_("登录已超时，请重新登录。"), "error")
        return
    if now - session[SEEN_AT] >= SEEN_RESOLUTION:
        session[SEEN_AT] = now


def _headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    staff_page = request.blueprint in STAFF_BLUEPRINTS
    # A session naming a user (signed in, or a stale one about to be ended): as strict as signed in, and
    # without loading the user (an API request, which has no session, pays nothing here).
    if staff_page or "_user_id" in session:
        # A staff page or anything shown to a signed-in user: never kept by a browser or a proxy.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened for free when the request brings no session cookie (an API
    client, a first visit): the signing serializer is built only for a cookie to read or to write. Flask
    builds it on every request, a tenth of a credit check's time."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:  # type: ignore[override]
        if not app.secret_key:
            return None
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = LazyCookieSessionInterface()
    app.before_request(_check_session_age)
    app.after_request(_headers)
