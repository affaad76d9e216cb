"""Bearer-key authentication for the API: `Authorization: Bearer <prefix>.<secret>`.

A missing or bad key is a 401 with `WWW-Authenticate: Bearer`; a live key without the scope a view needs
is a 403. Writes made with a key are audited as `api:<department>`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from credit.models import Actor, ApiKey, Department, utcnow
from credit.services.apikeys import authenticate_key
from credit.services.hot_checks import CachedDepartment, CachedKey, authenticate, config_cache, read_config_version
from credit.web.db import engine, get_session, unit_of_work

# Noting when a key was last used is for the operators ("is this key still in use?"), not a log of calls:
# once a minute is precise enough and spares the database (and the audit log) a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
REALM = 'Bearer realm="credit-api"'


def api_error(status: int, code: str, message: str, **extra: Any):
    """A JSON error in the API's one shape: `{"error": code, "message": text, ...}`."""
    response = jsonify(error=code, message=message, **extra)
    response.status_code = status
    return response


def unauthorized(message: str, *, invalid_token: bool = False):
    response = api_error(401, "unauthorized", message)
    # RFC 6750 §3: no error code when no credentials were sent, `invalid_token` when they were wrong.
    response.headers["WWW-Authenticate"] = REALM + (', error="invalid_token"' if invalid_token else "")
    return response


def bearer_token() -> tuple[str | None, str]:
    """The token of the Authorization header, or None and the reason it is unusable."""
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return None, "缺少 API 密钥:请在请求头中提供 Authorization: Bearer <密钥>"
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":  # RFC 7235: the scheme is case-insensitive
        return None, "Authorization 请求头须为 Bearer <密钥>"
    token = token.strip()
    prefix, dot, secret = token.partition(".")
    if not (prefix and dot and secret) or " " in token:
        return None, "API 密钥格式无效,应为 <前缀>.<密钥>"
    return token, ""


def current_key() -> ApiKey | CachedKey:
    return g.api_key


def current_department() -> Department | CachedDepartment:
    return g.api_department


def api_actor() -> Actor:
    """The audit actor of the calling department."""
    return Actor(label=f"api:{current_department().name}", source="api")


def _note_use(session: Session, key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    try:
        session.info["actor"] = api_actor()
        key.last_used_at = now
        session.add(key)
        session.commit()
    except SQLAlchemyError:  # bookkeeping must never cost the caller its request
        session.rollback()
        current_app.logger.warning("could not note the use of API key %s", key.prefix, exc_info=True)


def key_required(scope: str) -> Callable:
    """Admit requests bearing a live key with `scope`; the key and its department go to `g`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            token, reason = bearer_token()
            if token is None:
                return unauthorized(reason, invalid_token=bool(request.headers.get("Authorization", "").strip()))
            session = get_session()
            key = authenticate_key(session, token)
            if key is None:
                return unauthorized("API 密钥无效或已吊销", invalid_token=True)
            g.api_key = key
            g.api_department = session.get(Department, key.department_id)
            _note_use(session, key)
            if not key.has_scope(scope):
                return api_error(403, "forbidden", f"该 API 密钥没有 {scope} 权限(现有:{key.scopes})")
            return view(*args, **kwargs)

        wrapped.required_scope = scope  # type: ignore[attr-defined]
        return wrapped

    return decorator


def _cached_key(scope: str):
    """Authenticate the request's bearer token against the process's key cache: the key, or the error
    response (401, 403)."""
    token, reason = bearer_token()
    if token is None:
        return None, unauthorized(reason, invalid_token=bool(request.headers.get("Authorization", "").strip()))
    cache = config_cache(engine())
    prefix = token.partition(".")[0]
    key = None
    if cache.version is not None and prefix in cache.keys:
        key = authenticate(None, cache, token)  # from the cache: no database work
    if key is None and (cache.version is None or prefix not in cache.keys):
        # the process's first request, a prefix not seen at this version, or a cache emptied meanwhile
        with engine().connect() as conn:
            if cache.version is None:
                cache.sync(read_config_version(conn))
            key = authenticate(conn, cache, token)
    if key is None:
        return None, unauthorized("API 密钥无效或已吊销", invalid_token=True)
    if not key.has_scope(scope):
        return None, api_error(403, "forbidden", f"该 API 密钥没有 {scope} 权限(现有:{','.join(key.scopes)})")
    return key, None


def cached_key_required(scope: str) -> Callable:
    """`key_required` for the hot path: the key comes from the per-process cache (credit.services.
    hot_checks), which the view's own read checks against the configuration version; a view that finds it
    changed calls `recheck_key`, so a revoked key fails from the next request on."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            key, refused = _cached_key(scope)
            if refused is not None:
                return refused
            g.api_key = key
            g.api_department = CachedDepartment(key.department_id, key.department)
            g.api_scope = scope
            return view(*args, **kwargs)

        wrapped.required_scope = scope  # type: ignore[attr-defined]
        return wrapped

    return decorator


def recheck_key():
    """After the configuration changed under a request: authenticate it again with the fresh cache; the
    error response when the key no longer passes, else None."""
    key, refused = _cached_key(g.api_scope)
    if refused is None:
        g.api_key = key
        g.api_department = CachedDepartment(key.department_id, key.department)
    return refused


def key_unit_of_work() -> AbstractContextManager[Session]:
    """A write in the calling department's name: commit when the block succeeds, roll back otherwise."""
    return unit_of_work(api_actor())
