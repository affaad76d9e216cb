"""The public site (anonymous): the lists in force, firm search, each firm's public page, the language
switch. Grades are not shown unless the rule set publishes them."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from credit.clock import today
from credit.models import ListKind
from credit.reference import REGIONS
from credit.services.firms import FirmQuery, get_firm, search_firms
from credit.services.public import current_list, firm_listings, list_counts, public_records
from credit.services.rulesets import active_ruleset
from credit.web.db import get_session
from credit.web.security import safe_next

bp = Blueprint("public", __name__)


def _page() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


@bp.route("/")
def index():
    session = get_session()
    day = today()
    text = request.args.get("q", "").strip()[:100]
    found = search_firms(session, FirmQuery(text=text, per_page=20)) if text else None
    return render_template(
        "public/index.html",
        red=current_list(session, ListKind.red, day, per_page=10),
        black=current_list(session, ListKind.black, day, per_page=10),
        counts=list_counts(session, day),
        found=found,
        text=text,
        today=day,
        latest=_latest_publication(session),
    )


def _latest_publication(session):
    try:
        from credit.services.publications import latest_publication
    except ImportError:  # publications arrive with the scheduler
        return None
    return latest_publication(session)


@bp.route("/lists/<any(red, black):kind>")
def current(kind: str):
    session = get_session()
    day = today()
    text = request.args.get("q", "").strip()[:100]
    region = request.args.get("region", "")
    result = current_list(
        session, ListKind(kind), day, text=text, region=region if region in REGIONS else "", page=_page()
    )
    return render_template(
        "public/list.html", kind=kind, result=result, today=day, text=text, region=region, regions=REGIONS
    )


@bp.route("/firms/<uscc>")
def firm(uscc: str):
    session = get_session()
    found = get_firm(session, uscc.strip().upper())
    if found is None:
        abort(404)
    day = today()
    rules = active_ruleset(session)
    grade = None
    if rules.public.publish_grades:
        from credit.services.assessment import assess_firm

        grade = assess_firm(session, found, as_of=day, rules=rules).grade
    flagged = _under_objection(session, found.id)
    return render_template(
        "public/firm.html",
        firm=found,
        listings=firm_listings(session, found.id, day),
        records=public_records(session, found.id, day, rules),
        flagged=flagged,
        grade=grade,
        today=day,
    )


def _under_objection(session, firm_id: int) -> tuple[set[int], set[int]]:
    """(event ids, listing ids) of the firm's records under an open objection."""
    try:
        from credit.services.due_process import under_objection
    except ImportError:  # objections arrive with due process
        return set(), set()
    return under_objection(session, firm_id)


@bp.route("/lang/<code>")
def set_language(code: str):
    """Remember the visitor's language choice in a cookie and go back where they were."""
    response = redirect(safe_next(request.args.get("next")) or url_for("public.index"))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


import credit.web.public.publications  # noqa: E402, F401  - publications, downloads and the feed
from credit.web.public import petitions  # noqa: E402, F401  - routes of the objection form, on this blueprint
