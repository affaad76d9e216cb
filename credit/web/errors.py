"""Error pages: JSON for the API and for clients that ask for it, HTML otherwise; never a stack trace."""

from __future__ import annotations

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from credit.db import is_locked

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

    @app.errorhandler(OperationalError)
    def _database(err: OperationalError):
        # SQLite still locked after the busy timeout (credit.db): nothing was written; say so and ask the
        # client to come back, never a 500 (issue 11, failure 6). Any other database error is unexpected.
        if not is_locked(err):
            return _unexpected(err)
        app.logger.warning("database locked past the busy timeout on %s %s", request.method, request.path)
        response = make_response(error_response(503, "busy", str(MESSAGES[503])))
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", str(MESSAGES[500]))
