"""Error pages: JSON for the API and for clients that ask for it, HTML otherwise; never a stack trace.

A database that cannot serve just now (PostgreSQL down or restarting, the pool exhausted, SQLite locked
beyond its timeout: `credit.db.is_unavailable`) is a 503 with `Retry-After`, rendered without touching the
database again; the next request after the database is back is served as usual (pool pre-ping)."""

from __future__ import annotations

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from credit.db import is_locked, is_unavailable
from credit.services.signing import SigningError
from credit.web.extensions import login_manager

MESSAGES = {
    400: _l("请求无效。"),
    401: _l("需要登录或有效的 API 密钥。"),
    403: _l("您没有访问此页面的权限。"),
    404: _l("找不到该页面。"),
    405: _l("不支持该请求方法。"),
    413: _l("上传的文件太大。"),
    429: _l("请求过于频繁,请稍后再试。"),
    500: _l("服务器内部错误,已记录。请稍后再试。"),
    503: _l("系统正忙，您的操作未执行，请稍后重试。"),
}
# The database cannot serve just now (credit.db.is_unavailable): down, restarting, locked.
UNAVAILABLE = _l("系统暂时无法访问数据库，请稍后再试。")

# Seconds a client is asked to wait when the database stayed locked (SQLite, past its busy timeout).
BUSY_RETRY_AFTER = 2


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, code: str, message: str):
    if wants_json():
        return jsonify(error=code, message=message), status
    return render_template("errors/error.html", status=status, message=message), status


def unavailable_response(err: Exception):
    """503 for a database that cannot serve now: the page is rendered for an anonymous visitor (loading the
    signed-in user would query the database again) and never stored; `Retry-After` says when to retry."""
    retry_after = int(current_app.config.get("DATABASE_RETRY_AFTER", 30))
    current_app.logger.error(
        "database unavailable on %s %s: %s", request.method, request.path, str(err).splitlines()[0]
    )
    g._login_user = login_manager.anonymous_user()  # Flask-Login's per-request user: no query from the page
    message = str(UNAVAILABLE)
    if wants_json():
        response = make_response(jsonify(error="service_unavailable", message=message, retry_after=retry_after))
    else:
        response = make_response(render_template("errors/unavailable.html", message=message, retry_after=retry_after))
    response.status_code = 503
    response.headers["Retry-After"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError):
        return error_response(400, "csrf", _("表单已失效或缺少安全令牌(CSRF),请刷新页面后重试。"))

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        status = err.code or 500
        code = (err.name or "error").lower().replace(" ", "_")
        response = make_response(error_response(status, code, str(MESSAGES.get(status, err.name))))
        original = err.get_response().headers
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in original:
                response.headers[header] = original[header]
        return response

    @app.errorhandler(SigningError)
    def _no_signing_key(err: SigningError):
        # An answer is never given unsigned: without the key the service is unavailable, and says why.
        app.logger.error("signing unavailable: %s", err)
        return error_response(503, "signing_unavailable", _("签名服务暂不可用，请联系管理员。"))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", str(MESSAGES[500]))

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def _database(err: Exception):
        if is_locked(err):
            # SQLite still locked after the busy timeout (credit.db): nothing was written; say so and ask
            # the client to come back soon, never a 500 (issue 11, failure 6).
            app.logger.warning("database locked past the busy timeout on %s %s", request.method, request.path)
            response = make_response(error_response(503, "busy", str(MESSAGES[503])))
            response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
            return response
        if is_unavailable(err):  # down, restarting, refusing connections
            return unavailable_response(err)
        return _unexpected(err)
