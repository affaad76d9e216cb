"""The public site (anonymous): home page and the language switch."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from credit.web.auth.routes import safe_next

bp = Blueprint("public", __name__)


@bp.route("/")
def index():
    return render_template("public/index.html")


@bp.route("/lang/<code>")
def set_language(code: str):
    """Remember the visitor's language choice in a cookie and go back where they were."""
    response = redirect(safe_next(request.args.get("next")) or url_for("public.index"))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
