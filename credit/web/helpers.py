"""Template helpers: labels, dates in the bureau's time zone, URLs that keep the query string."""

from __future__ import annotations

import logging
from datetime import date
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request, url_for
from flask_babel import format_datetime, get_locale, gettext
from flask_babel import lazy_gettext as _l

from credit import clock
from credit.catalog import EVENT_TYPES, SEVERITY_LABELS
from credit.models.event import STATUS_LABELS
from credit.models.user import ROLE_LABELS
from credit.reference import INDUSTRY_SECTIONS, industry_label
from credit.services.tabular import ReadLimits

ACTION_LABELS = {
    "create": _l("新建"),
    "update": _l("修改"),
    "delete": _l("删除"),
    "login": _l("登录"),
    "login_failed": _l("登录失败"),
    "login_refused": _l("登录被拒(已锁定)"),
    "logout": _l("退出"),
    "import": _l("导入"),
    "assess": _l("评价"),
    "publish": _l("发布"),
    "demo": _l("演示数据"),
    "waive_objection": _l("登记放弃陈述申辩"),
    "restore": _l("从备份恢复"),
}


LISTING_STATUS_LABELS = {
    "proposed": _l("拟列入(告知中)"),
    "listed": _l("已列入"),
    "removed": _l("已移出"),
    "withdrawn": _l("已撤回"),
}


def localized_event_label(code: str) -> str:
    """The event type's label in the visitor's language (the catalogue carries both)."""
    event_type = EVENT_TYPES.get(code)
    if event_type is None:
        return code
    return event_type.label_en if str(get_locale()) == "en" else event_type.label


DEV_BASE_URL = "http://127.0.0.1:5000"
log = logging.getLogger(__name__)


def resolve_public_base_url(app: Flask) -> str:
    """The site's public root (scheme, host, any path prefix), from PUBLIC_BASE_URL; unset, from
    SERVER_NAME (PREFERRED_URL_SCHEME, APPLICATION_ROOT) or the development server's address, with a
    warning (outside tests) when the first absolute link is made. Absolute links never come from a request's Host header, which the client
    writes (ASVS 5.1.5)."""
    base = (app.config.get("PUBLIC_BASE_URL") or "").strip()
    if not base:
        server = app.config.get("SERVER_NAME")
        scheme = app.config.get("PREFERRED_URL_SCHEME") or "http"
        root = (app.config.get("APPLICATION_ROOT") or "/").rstrip("/")
        base = f"{scheme}://{server}{root}" if server else DEV_BASE_URL
        app.config["PUBLIC_BASE_URL_GUESSED"] = not app.testing  # warned at the first absolute link
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"PUBLIC_BASE_URL must be http(s)://host[:port][/path], not {base!r}")
    return base.rstrip("/")


def public_url(endpoint: str, **values: object) -> str:
    """An absolute URL of `endpoint` under the configured public base URL, whatever Host the request named."""
    if current_app.config.pop("PUBLIC_BASE_URL_GUESSED", False):
        log.warning(
            "PUBLIC_BASE_URL is not set: absolute links (feed, notices) name %s", current_app.config["PUBLIC_BASE_URL"]
        )
    parts = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def public_host() -> str:
    """The host name of the public base URL (the Atom feed's default tag authority)."""
    return urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"


def read_limits() -> ReadLimits:
    """The import-file ceilings of this app's configuration (UPLOAD_*), for every upload and CLI import."""
    return ReadLimits.from_config(current_app.config)


def date_arg(name: str, label: str | None = None) -> date | None:
    """A date filter from the query string: ISO, not after today, not before 1990. A bad one is ignored for
    the query and reported on the page (`g.filter_errors`, shown by base.html), never a 500."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return clock.parse_past_date(raw, field=label or name)
    except ValueError as exc:
        g.setdefault("filter_errors", []).append(str(exc))
        return None


def filter_errors() -> list[str]:
    return list(g.get("filter_errors", []))


def page_url(page: int) -> str:
    args = request.args.to_dict()
    args["page"] = str(page)
    return url_for(request.endpoint or "public.index", **(request.view_args or {}), **args)


def cursor_arg(name: str) -> int | None:
    """A keyset cursor from the query string (a firm id); anything else is no cursor."""
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def cursor_url(*, after: int | None = None, before: int | None = None, page: int = 1) -> str:
    """This page's URL with a keyset cursor instead of its own (credit.services.firm_search)."""
    args = {k: v for k, v in request.args.to_dict().items() if k not in ("after", "before", "page")}
    if after is not None:
        args["after"] = str(after)
    if before is not None:
        args["before"] = str(before)
    if page > 1:
        args["page"] = str(page)
    return url_for(request.endpoint or "public.index", **(request.view_args or {}), **args)


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        page_url=page_url,
        cursor_url=cursor_url,
        industry_label=industry_label,
        INDUSTRY_SECTIONS=INDUSTRY_SECTIONS,
        get_locale=get_locale,
        filter_errors=filter_errors,
    )
    app.jinja_env.filters["role_label"] = lambda role: gettext(ROLE_LABELS.get(role, role))
    app.jinja_env.filters["action_label"] = lambda action: str(ACTION_LABELS.get(action, action))
    app.jinja_env.filters["event_label"] = localized_event_label
    app.jinja_env.filters["status_label"] = lambda status: gettext(STATUS_LABELS.get(status, status))
    app.jinja_env.filters["severity_label"] = lambda code: gettext(SEVERITY_LABELS.get(code, code))
    app.jinja_env.filters["listing_status_label"] = lambda status: str(LISTING_STATUS_LABELS.get(status, status))
    app.jinja_env.globals["EVENT_TYPES"] = EVENT_TYPES

    @app.context_processor
    def _clock() -> dict:
        # A fixed date (test or training copy) is shown on staff pages so nobody takes it for today.
        return {"fixed_today": clock.fixed_today() if not app.testing else None}

    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.filters["datetime"] = lambda value: format_datetime(value, "yyyy-MM-dd HH:mm") if value else ""
