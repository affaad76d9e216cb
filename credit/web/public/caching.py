"""HTTP caching of the public pages: ETags from what a page is built of, answered with 304 before any
rendering, and Cache-Control fit for each kind of page.

A page's ETag names everything it shows: the data's version (the lists' change counter, or a
publication's public state), today's date, the language, and the visitor's CSRF token if the session
holds one. Signed-in staff see their own navigation: their pages
are never validated this way."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from flask import Response, current_app, g, request, session
from flask_babel import get_locale
from flask_login import current_user


def cacheable() -> bool:
    """Only anonymous visitors get ETags (staff pages show their roles' navigation)."""
    return not (current_user and current_user.is_authenticated)


def page_tag(parts: Iterable[object]) -> str:
    """A weak ETag of a rendered page (equivalent, not byte-identical: the CSRF token is signed anew)."""
    token = session.get("csrf_token", "")
    raw = "|".join(str(p) for p in (*parts, get_locale(), hashlib.sha256(str(token).encode()).hexdigest()[:12]))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def not_modified(tag: str, *, weak: bool = True) -> Response | None:
    """A 304 when the visitor already holds this version of the page, else None (render it)."""
    matches = request.if_none_match.contains_weak(tag) if weak else request.if_none_match.contains(tag)
    if not matches:
        return None
    response = current_app.response_class(status=304)
    response.set_etag(tag, weak=weak)
    return response


def revalidated(response: Response, tag: str, *, weak: bool = True, max_age: int = 0) -> Response:
    """Tag a rendered page; caches may keep it `max_age` seconds, then ask again with If-None-Match."""
    response.set_etag(tag, weak=weak)
    # The page carries the visitor's CSRF token: private; kept and asked again each time (no-cache).
    response.headers["Cache-Control"] = f"private, max-age={max_age}" if max_age else "private, no-cache"
    response.vary.update(("Cookie", "Accept-Language"))
    return response


def rendered_once(key: tuple[object, ...], render: Callable[[], str]) -> str:
    """The page `render` makes, rendered once per `key` in this process and kept (the key must name all it
    shows: data version, day, language, the query string). Only for anonymous visitors without pending
    flash messages. A page read anonymously carries no CSRF token (base.html puts one only where a form
    posts); a page whose rendering made one is served but never kept, so no visitor gets another's."""
    if not cacheable() or session.get("_flashes"):
        return render()
    from credit.services.public import ListCache

    pages: ListCache = current_app.extensions.setdefault("credit.page_cache", ListCache(size=512))
    full_key = (*key, str(get_locale()), request.path, request.query_string)
    kept = pages.peek(full_key)
    if kept is not None:
        return kept
    html = render()
    if "csrf_token" not in g:
        pages.put(full_key, html)
    return html
