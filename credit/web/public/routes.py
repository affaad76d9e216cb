"""The public site (anonymous): the lists in force, firm search, each firm's public page, the language
switch. Grades are not shown unless the rule set publishes them."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from markupsafe import Markup

from credit.clock import today
from credit.models import ListKind
from credit.reference import REGIONS
from credit.services.firms import FirmQuery, search_firms
from credit.services.hot_checks import current_ruleset
from credit.services.public import ListCache, current_list, firm_public_page, list_counts, lists_version
from credit.uscc import is_valid_uscc
from credit.web.db import get_session
from credit.web.helpers import cursor_arg
from credit.web.public.caching import cacheable, not_modified, page_tag, rendered_once, revalidated
from credit.web.security import safe_next

bp = Blueprint("public", __name__)


def _page() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


def _list_cache() -> ListCache:
    """This process's pages of the current lists (keyed by the lists' change counter)."""
    return current_app.extensions.setdefault("credit.list_cache", ListCache())


def _cached_list(session, version: int, kind: ListKind, day, **kw) -> object:
    key = ("list", version, day, kind, tuple(sorted(kw.items())))
    return _list_cache().get_or_make(key, lambda: current_list(session, kind, day, **kw))


def _list_table(session, version: int, kind: ListKind, day) -> Markup:
    """The front page's table of a list, rendered once per change of the lists, day and language (the
    front page with a search renders around it)."""

    def render() -> Markup:
        table = get_template_attribute("public/_lists.html", "list_table")
        return table(_cached_list(session, version, kind, day, per_page=10), kind.value, day)  # escaped Markup

    return _list_cache().get_or_make(("table", version, day, kind, str(get_locale())), render)


def _cached_counts(session, version: int, day) -> dict[str, int]:
    return _list_cache().get_or_make(("counts", version, day), lambda: list_counts(session, day))


@bp.route("/")
def index():
    session = get_session()
    day = today()
    text = request.args.get("q", "").strip()[:100]
    version = lists_version(session)  # first: what follows is at least this new
    latest = _latest_publication(session)
    tag = None
    if not text and cacheable():  # search results follow the register, not the lists: never validated
        tag = page_tag(("index", version, day, latest.id if latest else None))
        if (unchanged := not_modified(tag)) is not None:
            return unchanged
    found = None
    if text:
        query = FirmQuery(
            text=text,
            per_page=20,
            page=_page(),
            after=cursor_arg("after"),
            before=cursor_arg("before"),
            count_cap=current_app.config["SEARCH_COUNT_CAP"],
            scan_window=current_app.config["SEARCH_SCAN_WINDOW"],
        )
        found = search_firms(session, query)

    def render() -> str:
        return render_template(
            "public/index.html",
            red=_list_table(session, version, ListKind.red, day),
            black=_list_table(session, version, ListKind.black, day),
            counts=_cached_counts(session, version, day),
            found=found,
            text=text,
            today=day,
            latest=latest,
        )

    # The front page without a search is rendered once per change of the lists, day and language.
    html = render() if text else rendered_once(("index", version, day, latest.id if latest else None), render)
    response = current_app.make_response(html)
    return revalidated(response, page_tag(("index", version, day, latest.id if latest else None))) if tag else response


def _latest_publication(session):
    try:
        from credit.services.publications import latest_publication
    except ImportError:  # publications arrive with the scheduler
        return None
    return latest_publication(session)


@bp.route("/lists/<any(red, black):kind>")
def current(kind: str):
    """A current list: built once per change of the lists (and day) in each process, validated by ETag."""
    session = get_session()
    day = today()
    version = lists_version(session)
    tag = page_tag(("list", version, day)) if cacheable() else None
    if tag and (unchanged := not_modified(tag)) is not None:
        return unchanged
    text = request.args.get("q", "").strip()[:100]
    region = request.args.get("region", "")
    region = region if region in REGIONS else ""

    def render() -> str:
        result = _cached_list(session, version, ListKind(kind), day, text=text, region=region, page=_page())
        return render_template(
            "public/list.html", kind=kind, result=result, today=day, text=text, region=region, regions=REGIONS
        )

    response = current_app.make_response(rendered_once(("list", version, day), render))
    return revalidated(response, page_tag(("list", version, day))) if tag else response


@bp.route("/firms/<uscc>")
def firm(uscc: str):
    """A firm's public page: three statements (the configuration version for the cached rule set, the
    firm with its entries, its records)."""
    session = get_session()
    day = today()
    rules = current_ruleset(session)
    page = firm_public_page(session, uscc.strip().upper(), day, rules)
    if page is None:
        abort(404)
    grade = None
    if rules.public.publish_grades:
        from credit.services.assessment import assess_firm

        grade = assess_firm(session, page.firm, as_of=day, rules=rules).grade
    return render_template(
        "public/firm.html",
        firm=page.firm,
        listings=page.listings,
        records=page.records,
        flagged=(page.flagged_events, page.flagged_listings),
        grade=grade,
        # Only a recorded pilot code is in the register without passing its check characters: no query.
        pilot_code=not is_valid_uscc(page.firm.uscc),
        today=day,
    )


@bp.route("/lang/<code>")
def set_language(code: str):
    """Remember the visitor's language choice in a cookie and go back where they were."""
    response = redirect(safe_next(request.args.get("next")) or url_for("public.index"))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


import credit.web.public.publications  # noqa: E402, F401  - publications, downloads and the feed
from credit.web.public import petitions  # noqa: E402, F401  - routes of the objection form, on this blueprint
