"""Public pages of the publications (发布): the list, one publication with both lists, its downloads
(CSV, Excel, JSON) and the Atom feed. Anonymous; registered on the `public` blueprint."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import quote
from xml.etree import ElementTree as ET

from flask import Response, abort, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from credit.models import Publication, utcnow
from credit.services.publications import (
    correction_links,
    entries_page,
    get_publication,
    list_publications,
    months_listed,
    numbers_by_id,
    public_counts,
    public_state,
    recent_withdrawals,
    seal_of,
    seals,
    stored_export,
    withdrawal_of,
    withdrawals,
)
from credit.services.publications.exports import export_tag
from credit.web.db import get_session, unit_of_work
from credit.web.helpers import public_host, public_url
from credit.web.public.caching import cacheable, not_modified, page_tag, revalidated
from credit.web.public.routes import bp

PER_PAGE = 200
ATOM = "http://www.w3.org/2005/Atom"
# Tag URIs (RFC 4151) name a date on which the authority held its domain; it never changes afterwards,
# so entry ids stay stable however the site is reached.
TAG_DATE = "2026"
DOWNLOADS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


def _found(number: str) -> Publication:
    publication = get_publication(get_session(), number)
    if publication is None:
        abort(404)
    return publication  # type: ignore[return-value]


def listed_for(listed_from: date, snapshot: date) -> str:
    """How long an entry had been listed on the snapshot date, in words."""
    months = months_listed(listed_from, snapshot)
    if months < 1:
        return _("不足 1 个月")
    return _("%(n)s 个月", n=months)  # the same words as the current lists (public/_lists.html)


@bp.route("/publications")
def publication_list():
    session = get_session()
    publications = list_publications(session)
    corrects = numbers_by_id(session, [p.corrects_id for p in publications])
    return render_template(
        "public/publications.html",
        publications=publications,
        corrects=corrects,
        withdrawn=withdrawals(session, [p.id for p in publications]),
    )


@bp.route("/publications/<number>")
def publication(number: str):
    session = get_session()
    found = _found(number)
    tag = page_tag(("publication", public_state(session, found))) if cacheable() else None
    if tag and (unchanged := not_modified(tag)) is not None:
        return unchanged
    corrects, corrected_by = correction_links(session, found)
    only = request.args.get("list", "")
    only = only if only in ("red", "black") else ""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    lists = []
    counts = public_counts(session, found)
    for kind, total in (("red", counts.get("red", 0)), ("black", counts.get("black", 0))):
        if only and only != kind:
            continue
        current = page if only == kind else 1
        lists.append(
            {
                "kind": kind,
                "total": total,
                "entries": entries_page(session, found, kind, page=current, per_page=PER_PAGE),
                "page": current,
                "pages": max(1, -(-total // PER_PAGE)),
                "more": not only and total > PER_PAGE,
            }
        )
    response = current_app.make_response(
        render_template(
            "public/publication.html",
            publication=found,
            corrects=corrects,
            corrected_by=corrected_by,
            lists=lists,
            only=only,
            listed_for=listed_for,
            withdrawal=withdrawal_of(session, found),
            seal=seal_of(session, found),
        )
    )
    return revalidated(response, page_tag(("publication", public_state(session, found)))) if tag else response


@bp.route("/publications/<number>.<any(csv, xlsx, json):fmt>")
def publication_download(number: str, fmt: str):
    """A download, written once per public state of the publication and served from the database with a
    strong ETag (the same bytes while the state holds; a 304 costs the state's few reads)."""
    session = get_session()
    found = _found(number)
    state = public_state(session, found)
    tag = export_tag(state, fmt)
    if (unchanged := not_modified(tag, weak=False)) is not None:
        unchanged.headers["Cache-Control"] = _download_cache()
        return unchanged
    with unit_of_work():  # the first request of this state writes the file; the others read it
        stored = stored_export(session, found, fmt, state=state)
        data = stored.content
    response = Response(data, content_type=DOWNLOADS[fmt])
    ascii_name = f"publication-{found.number}.{fmt}"
    local_name = _("质量信用红黑榜-%(number)s", number=found.number) + f".{fmt}"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(local_name, safe='')}"
    )
    response.set_etag(tag)
    response.headers["Cache-Control"] = _download_cache()
    return response


def _download_cache() -> str:
    # Not immutable: a withdrawal, a correction or an entry hidden after credit repair changes what the
    # public may see (SPEC §2), so caches keep a download for PUBLICATION_MAX_AGE, then revalidate.
    return f"public, max-age={current_app.config['PUBLICATION_MAX_AGE']}"


def _tag_authority() -> str:
    return current_app.config.get("FEED_TAG_AUTHORITY") or public_host()


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _anchor_text(seal) -> str:
    if seal.audit_entry_id is None:
        return _("发布时审计日志为空。")
    return _("发布时审计链头：第 %(id)s 条记录，%(head)s。", id=seal.audit_entry_id, head=seal.audit_head)


@bp.route("/feed.atom")
def feed():
    """Atom 1.0 (RFC 4287): one entry per publication, the newest first."""
    session = get_session()
    publications = sorted(list_publications(session), key=lambda p: (p.published_at, p.id or 0), reverse=True)[:50]
    corrects = numbers_by_id(session, [p.corrects_id for p in publications])
    sealed = seals(session, [p.id for p in publications])
    authority = _tag_authority()
    lang = "en" if str(get_locale()) == "en" else "zh-CN"
    root = ET.Element("feed", {"xmlns": ATOM, "xml:lang": lang})
    _sub(root, "id", f"tag:{authority},{TAG_DATE}:publications")
    _sub(root, "title", _("质量信用红黑榜 · 发布"))
    _sub(root, "subtitle", _("企业质量信用红黑榜定期发布"))
    updated = max((p.published_at for p in publications), default=None)
    updated_element = _sub(root, "updated", _rfc3339(updated or utcnow()))
    _sub(root, "link", rel="self", type="application/atom+xml", href=public_url("public.feed"))
    _sub(root, "link", rel="alternate", type="text/html", href=public_url("public.publication_list"))
    author = _sub(root, "author")
    _sub(author, "name", _("市场监督管理局"))
    # A withdrawal is news of its own: an entry saying so, newest first among the publications.
    for withdrawal, pub in recent_withdrawals(session):
        entry = _sub(root, "entry")
        _sub(entry, "id", f"tag:{authority},{TAG_DATE}:publication/{pub.number}/withdrawal")
        _sub(entry, "title", _("撤回:质量信用红黑榜 %(number)s", number=pub.number))
        _sub(entry, "updated", _rfc3339(withdrawal.withdrawn_at))
        _sub(entry, "published", _rfc3339(withdrawal.withdrawn_at))
        href = public_url("public.publication", number=pub.number)
        _sub(entry, "link", rel="alternate", type="text/html", href=href)
        text = _(
            "%(day)s 撤回发布 %(number)s,理由:%(reason)s",
            day=withdrawal.withdrawn_on.isoformat(),
            number=pub.number,
            reason=withdrawal.reason,
        )
        _sub(entry, "summary", text, type="text")
        updated = max(updated or withdrawal.withdrawn_at, withdrawal.withdrawn_at)
    for pub in publications:
        entry = _sub(root, "entry")
        _sub(entry, "id", f"tag:{authority},{TAG_DATE}:publication/{pub.number}")
        corrected = corrects.get(pub.corrects_id or 0)
        if corrected:
            title = _("质量信用红黑榜 %(number)s(更正 %(corrects)s)", number=pub.number, corrects=corrected)
        else:
            title = _("质量信用红黑榜 %(number)s", number=pub.number)
        _sub(entry, "title", title)
        _sub(entry, "updated", _rfc3339(pub.published_at))
        _sub(entry, "published", _rfc3339(pub.published_at))
        _sub(
            entry,
            "link",
            rel="alternate",
            type="text/html",
            href=public_url("public.publication", number=pub.number),
        )
        summary = _(
            "期次 %(period)s,快照日 %(date)s:红榜 %(red)s 家,黑榜 %(black)s 家。",
            period=pub.period,
            date=pub.snapshot_date.isoformat(),
            red=pub.red_count,
            black=pub.black_count,
        )
        if pub.correction_note:
            summary += " " + _("更正说明:%(note)s", note=pub.correction_note)
        seal = sealed.get(pub.id or 0)
        if seal is not None:
            # The digest in the feed too: a copy outside the database, kept by every reader of the feed.
            summary += " " + _("快照摘要（SHA-256）：%(digest)s。", digest=seal.digest)
            summary += " " + _anchor_text(seal)
        _sub(entry, "summary", summary, type="text")
    if updated is not None:
        updated_element.text = _rfc3339(updated)
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, content_type="application/atom+xml; charset=utf-8")
