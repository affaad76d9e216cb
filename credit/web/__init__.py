"""The Flask application factory: a list of small named steps."""

from __future__ import annotations

import functools
from pathlib import Path

from babel import Locale
from flask import Flask, g, request
from flask_babel import get_translations
from werkzeug.middleware.proxy_fix import ProxyFix

from config import INSTANCE_DIR, Config
from credit.web.jsonio import SafeJSONProvider

ROOT = Path(__file__).resolve().parents[2]


def create_app(config: object | None = None) -> Flask:
    """Build the app from a config object (default: `config.Config`, read from the environment)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(INSTANCE_DIR),
    )
    app.config.from_object(config if config is not None else Config())
    from credit.web.helpers import resolve_public_base_url

    app.config["PUBLIC_BASE_URL"] = resolve_public_base_url(app)
    app.json = SafeJSONProvider(app)
    if app.config.get("PROXY_COUNT"):
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def select_locale() -> Locale:
    """Chinese unless the visitor chose English (the `lang` cookie)."""
    from flask import current_app

    choice = request.cookies.get("lang", "")
    return _locale(choice if choice in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"])


@functools.cache
def _locale(code: str) -> Locale:
    # Parsed once per process: babel's Locale.parse lists its locale-data directory on every call, which
    # was the largest single cost of a cached public page.
    return Locale.parse(code)


def _request_translations():
    """The request's catalog, looked up once per request (Flask-Babel finds it again on every call: a
    page's twenty strings cost more than its data)."""
    found = g.get("_credit_translations")
    if found is None:
        found = g._credit_translations = get_translations()
    return found


def _install_template_gettext(app: Flask) -> None:
    """Flask-Babel's template callables, with the catalog kept for the request."""
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _request_translations().ugettext(s),
        ngettext=lambda s, p, n: _request_translations().ungettext(s, p, n),
        pgettext=lambda c, s: _request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _request_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )


def register_extensions(app: Flask) -> None:
    from credit.web import db, security
    from credit.web.extensions import babel, csrf, login_manager

    db.init_app(app)
    security.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(ROOT / "translations"))
    _install_template_gettext(app)
    login_manager.init_app(app)

    @login_manager.user_loader
    def _load_user(session_id: str):
        from credit.services.users import load_user

        return load_user(db.get_session(), session_id)


def register_blueprints(app: Flask) -> None:
    from credit.web.admin.routes import bp as admin_bp
    from credit.web.announcements.routes import bp as announcements_bp
    from credit.web.api import watch as _watch_routes  # noqa: F401 - registers the issue-15 routes on bp
    from credit.web.api.routes import bp as api_bp
    from credit.web.auth.routes import bp as auth_bp
    from credit.web.checks.routes import bp as checks_bp
    from credit.web.dueprocess.routes import bp as dueprocess_bp
    from credit.web.public.routes import bp as public_bp
    from credit.web.records.routes import bp as records_bp
    from credit.web.rules.routes import bp as rules_bp
    from credit.web.stats.routes import bp as stats_bp
    from credit.web.stats.routes import public_bp as public_stats_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp)  # url_prefix /api/v1, set on the blueprint
    app.register_blueprint(records_bp, url_prefix="/admin")
    app.register_blueprint(rules_bp, url_prefix="/admin")
    app.register_blueprint(dueprocess_bp, url_prefix="/admin")
    app.register_blueprint(announcements_bp, url_prefix="/admin")
    app.register_blueprint(checks_bp)  # /check for checkers, /admin/checks for admins
    app.register_blueprint(stats_bp, url_prefix="/admin")
    app.register_blueprint(public_stats_bp)
    from credit.web.supervision.routes import bp as supervision_bp

    app.register_blueprint(supervision_bp, url_prefix="/admin")


def register_errorhandlers(app: Flask) -> None:
    from credit.web.errors import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    from credit.web.cli import credit_cli

    app.cli.add_command(credit_cli)


def register_template_helpers(app: Flask) -> None:
    from credit.web.helpers import init_app

    init_app(app)
