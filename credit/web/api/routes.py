"""The JSON API `/api/v1`: departments check firms' credit (信用核查) and report credit events with their
keys, and poll the review outcome. Keyed routes share a per-key rate limit (`ratelimit`).

Every answer is JSON, errors included (`credit.web.errors` covers 404/405/500 under /api/). CSRF does not
apply: a request carries its key in a header, never a cookie."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from credit.clock import parse_past_date, today
from credit.models import ApiKey, CreditEvent, Firm, ListKind
from credit.rules.ruleset import PURPOSES
from credit.services import events
from credit.services.event_input import EVENT_FIELDS, FieldError
from credit.services.hot_checks import Caller, HotAnswer, answer_checks, config_cache
from credit.services.pilot_codes import validate_code
from credit.services.public import current_list
from credit.services.publications import (
    get_publication,
    list_publications,
    numbers_by_id,
    publication_detail,
    publication_json,
    publication_summary,
    withdrawals,
)
from credit.services.spreadsheet import CSV_MIMETYPE, csv_bytes
from credit.uscc import CHECKSUM_RULES, UsccError, validate_uscc
from credit.uscc import RULES as USCC_RULES
from credit.web.api.auth import (
    api_error,
    cached_key_required,
    current_department,
    current_key,
    key_required,
    key_unit_of_work,
    recheck_key,
)
from credit.web.api.openapi import openapi_document
from credit.web.api.ratelimit import hot_connection, hot_rate_limited, hot_unit, rate_limited
from credit.web.db import engine, get_session, signing_key_dir
from credit.web.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

NUMBER_FIELDS = frozenset({"amount"})
MAX_ID = 2**31 - 1  # INTEGER primary keys


def _summary(errors: list[FieldError]) -> str:
    return ";".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)


def validation_failed(errors: list[FieldError]):
    return api_error(
        422,
        "validation_failed",
        _summary(errors),
        details=[{"field": e.field, "message": e.message} for e in errors],
    )


def event_payload(body: dict[str, Any]) -> tuple[dict[str, str], list[FieldError]]:
    """The submitted fields as the shared validation expects them (text), or the type errors found.
    Unknown fields are refused: a misspelt optional field would otherwise be silently lost."""
    errors = [FieldError(str(name), "未知字段") for name in body if name not in EVENT_FIELDS]
    raw: dict[str, str] = {}
    for name in EVENT_FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            raw[name] = value
        elif name in NUMBER_FIELDS and isinstance(value, int | float) and not isinstance(value, bool):
            raw[name] = str(value)
        else:
            errors.append(FieldError(name, "须为字符串或数字" if name in NUMBER_FIELDS else "须为字符串"))
    return raw, errors


def _instant(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def event_json(session: Session, event: CreditEvent) -> dict[str, Any]:
    """An event as the API shows it to the department that reported it."""
    firm = session.get(Firm, event.firm_id)
    failure = session.get(CreditEvent, event.rectifies_id) if event.rectifies_id else None
    return {
        "id": event.id,
        "uscc": firm.uscc if firm else None,
        "event_type": event.event_type,
        "occurred_on": event.occurred_on.isoformat(),
        "document_no": event.document_no,
        "authority": event.authority,
        "severity": event.severity,
        "amount": None if event.amount is None else f"{event.amount:.2f}",
        "product": event.product,
        "valid_until": event.valid_until.isoformat() if event.valid_until else None,
        "description": event.description,
        "person_name": event.person_name,
        "certificate_no": event.certificate_no,
        "rectifies_document_no": failure.document_no if failure else None,
        "status": str(event.status),
        "source": event.source,
        "recorded_at": _instant(event.recorded_at),
        "reviewed_at": _instant(event.reviewed_at),
        "review_note": event.review_note,
        "revoked_at": _instant(event.revoked_at),
        "revoke_reason": event.revoke_reason,
    }


@bp.post("/events")
@key_required("record")
@rate_limited
def record_event():
    """Record one event, pending review, in the name of the key's department."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error(400, "bad_request", "请求体须为 JSON 对象,并带 Content-Type: application/json")
    raw, errors = event_payload(body)
    if errors:
        return validation_failed(errors)
    try:
        with key_unit_of_work() as session:
            event = events.record_event(session, raw, api_key=current_key(), source="api")
    except events.EventError as exc:
        if exc.conflict:
            return api_error(409, "conflict", _summary(exc.errors))
        return validation_failed(exc.errors)
    except IntegrityError:  # the same event sent twice at once: the natural-key index decides
        return api_error(409, "conflict", "document_no: 该企业已有同类型、同文书号的记录")
    response = jsonify(event_json(get_session(), event))
    response.status_code = 201
    response.headers["Location"] = url_for("api.event_detail", event_id=event.id)
    return response


@bp.get("/events/<int:event_id>")
@key_required("record")
@rate_limited
def event_detail(event_id: int):
    """An event this department reported, with its review outcome; other events do not exist for it."""
    if event_id > MAX_ID:  # beyond any id the database can hold (and its driver would refuse it: a 500)
        return api_error(404, "not_found", f"本部门没有报送过编号为 {event_id} 的信用事件")
    session = get_session()
    event = session.exec(
        select(CreditEvent)
        .join(ApiKey, CreditEvent.api_key_id == ApiKey.id)  # type: ignore[arg-type]
        .where(CreditEvent.id == event_id, ApiKey.department_id == current_department().id)
    ).first()
    if event is None:
        return api_error(404, "not_found", f"本部门没有报送过编号为 {event_id} 的信用事件")
    return jsonify(event_json(session, event))


@bp.get("/signing-keys")
def signing_keys():
    """The bureau's public signing keys, current and retired: all a department needs to verify offline."""
    from credit.services.signing import all_keys, key_json

    return jsonify(keys=[key_json(key) for key in all_keys(get_session())])


@bp.get("/receipts/<check_id>")
def receipt(check_id: str):
    """Confirm a check's receipt (public, no key): with the verification code printed on it, the answer as
    given, signed. An unknown receipt and a wrong code are the same 404 (the code's 80 bits guard it)."""
    from credit.services.check_log import confirm_receipt
    from credit.services.signing import verification_code

    code = request.args.get("code", "")
    if not code.strip():
        return validation_failed([FieldError("code", "缺少验证码（回执上的 16 位验证码）")])
    check = confirm_receipt(get_session(), check_id, code)
    if check is None:
        return api_error(404, "not_found", "回执编号或验证码不符")
    response = jsonify(
        check_id=check.receipt,
        checked_at=_instant(check.checked_at),
        verification_code=verification_code(check.answer["signature"]),
        answer=check.answer,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/publications")
def publication_list():
    """Every publication, the newest period first (public, no key)."""
    session = get_session()
    publications = list_publications(session)
    corrects = numbers_by_id(session, [p.corrects_id for p in publications])
    withdrawn = withdrawals(session, [p.id for p in publications])
    return jsonify(
        publications=[
            publication_summary(p, corrects.get(p.corrects_id or 0), withdrawn.get(p.id or 0)) for p in publications
        ]
    )


@bp.get("/publications/<number>")
def publication(number: str):
    """One publication with both lists (public, no key)."""
    session = get_session()
    found = get_publication(session, number)
    if found is None:
        return api_error(404, "not_found", f"没有编号为 {number} 的发布")
    return jsonify(publication_json(publication_detail(session, found)))


@bp.get("/listings")
@key_required("check")
@rate_limited
def current_listings():
    """The bulk file of every entry in force today, for departments that sync once a day rather than
    query; JSON by default, `?format=csv` for a spreadsheet (UTF-8 with BOM)."""
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        return validation_failed([FieldError("format", "format 须为 json 或 csv")])
    day = today()
    # Revalidation (issue 15): the file is a function of the lists' change counter, the day and the format.
    from credit.services.outbox import last_change_at
    from credit.services.public import lists_version

    session = get_session()
    etag = f"lists-{lists_version(session)}-{day.isoformat()}-{fmt}"
    modified = last_change_at(session, day)
    if request.if_none_match.contains(etag):
        response = Response(status=304)
        response.set_etag(etag)
        response.last_modified = modified
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response
    rows = [
        {
            "uscc": entry.firm.uscc,
            "name": entry.firm.name,
            "region": entry.firm.region,
            "list": entry.listing.kind,
            "since": entry.listing.listed_from.isoformat() if entry.listing.listed_from else None,
            "until": entry.listing.listed_until.isoformat() if entry.listing.listed_until else None,
            "reason": entry.listing.reason,
        }
        for kind in (ListKind.red, ListKind.black)
        for entry in current_list(get_session(), kind, day, per_page=1_000_000).entries
    ]
    if fmt == "json":
        response = jsonify(as_of=day.isoformat(), listings=rows)
    else:
        columns = ["uscc", "name", "region", "list", "since", "until", "reason"]
        content = csv_bytes(columns, ([row[c] for c in columns] for row in rows))
        response = Response(content, mimetype=CSV_MIMETYPE)
        response.headers["Content-Disposition"] = f"attachment; filename=listings-{day.isoformat()}.csv"
    # The file changes at most when a list entry changes; a day's copy may be cached for an hour.
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.set_etag(etag)
    response.last_modified = modified
    return response


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document of this API (public)."""
    return jsonify(openapi_document(server_url=request.script_root + (bp.url_prefix or "")))


# --- Credit checks (信用核查) ----------------------------------------------------------------------

CHECK_ENDPOINTS = frozenset({"api.credit_check", "api.credit_batch"})
BATCH_LIMIT = 1000
BATCH_FIELDS = frozenset({"usccs", "purpose", "as_of"})


@bp.after_request
def _never_cache_a_grade(response):
    """A grade can change at any moment (an event approved, a listing decided): no cache may keep an
    answer, nor an error about one."""
    if request.endpoint in CHECK_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    return response


def _purpose_and_date(purpose: object, as_of: object) -> tuple[str, date | None, list[FieldError]]:
    errors: list[FieldError] = []
    if purpose is None or purpose == "":
        errors.append(FieldError("purpose", f"缺少核查用途,须为 {', '.join(PURPOSES)} 之一"))
    elif purpose not in PURPOSES:
        errors.append(FieldError("purpose", f"未知的核查用途「{purpose}」,须为 {', '.join(PURPOSES)} 之一"))
    day = None
    if as_of is not None and as_of != "":
        if not isinstance(as_of, str):
            errors.append(FieldError("as_of", "须为 YYYY-MM-DD 格式的字符串"))
        else:
            try:
                day = parse_past_date(as_of, field="as_of ")
            except ValueError as exc:
                errors.append(FieldError("as_of", str(exc)))
    return str(purpose or ""), day, errors


def _valid_code(code: str) -> str:
    """A valid USCC, or a recorded legal pilot code: the database is asked only when a check character
    fails, so the hot path of a valid code opens no session."""
    try:
        return validate_uscc(code)
    except UsccError as exc:
        if exc.rule not in CHECKSUM_RULES or not isinstance(code, str):
            raise
        return validate_code(get_session(), code)


def _uscc_error(exc: UsccError) -> str:
    return f"{exc.message}(规则 {exc.rule}:{USCC_RULES.get(exc.rule, '')})"


def _hot_answers(usccs: list[str], purpose: str, day: date | None):
    """The hot path's answers by code, or the response refusing the request when the configuration
    changed under it and the key no longer passes (a revoked key: 401 from the next request on)."""
    conn = hot_connection()
    answers, changed = answer_checks(conn, usccs, purpose=purpose, as_of=day, cache=config_cache(engine()))
    if changed and (refused := recheck_key()) is not None:
        return None, refused  # hot_rate_limited does not count a 401; a 403 counts
    return answers, None


def _log(answers: list[HotAnswer]):
    """Count the request and log the answers (the hot path's one write): the answers as given, signed,
    or the 429 response when the key's window is used up."""
    caller = Caller("api", api_key=current_key(), department=current_department().name)  # type: ignore[arg-type]
    cache, key_dir = config_cache(engine()), signing_key_dir()
    logged = hot_unit().log(
        answers, caller, signer=lambda conn: cache.signer(conn, key_dir), cached_signer=cache.cached_signer(key_dir)
    )
    return logged if isinstance(logged, Response) else [row["answer"] for row in logged]


@bp.get("/credit/<uscc>")
@cached_key_required("check")
@hot_rate_limited
def credit_check(uscc: str):
    """One credit check: grade, lists in force and the measures for the purpose; logged with a receipt.
    The hot path: one read and one write in the Core transaction `hot_rate_limited` opened (and commits)."""
    errors: list[FieldError] = []
    try:
        uscc = _valid_code(uscc)
    except UsccError as exc:
        errors.append(FieldError("uscc", _uscc_error(exc)))
    purpose, day, more = _purpose_and_date(request.args.get("purpose"), request.args.get("as_of"))
    errors += more
    if errors:
        return validation_failed(errors)
    answers, refused = _hot_answers([uscc], purpose, day)
    if refused is not None:
        return refused
    answer = answers.get(uscc)  # type: ignore[union-attr]
    if answer is None:
        return api_error(404, "not_found", f"本局没有统一社会信用代码为 {uscc} 的市场主体")
    given = _log([answer])
    return given if isinstance(given, Response) else jsonify(given[0])


@bp.post("/credit/batch")
@cached_key_required("check")
@hot_rate_limited
def credit_batch():
    """Up to 1000 checks for one purpose; results in input order, each its own answer (and receipt) or error."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error(400, "bad_request", "请求体须为 JSON 对象,并带 Content-Type: application/json")
    errors = [FieldError(str(name), "未知字段") for name in body if name not in BATCH_FIELDS]
    usccs = body.get("usccs")
    if not isinstance(usccs, list) or not all(isinstance(code, str) for code in usccs):
        errors.append(FieldError("usccs", "须为统一社会信用代码(字符串)的数组"))
    elif not usccs:
        errors.append(FieldError("usccs", "至少须有一个统一社会信用代码"))
    elif len(usccs) > BATCH_LIMIT:
        errors.append(FieldError("usccs", f"一次至多核查 {BATCH_LIMIT} 个,实为 {len(usccs)} 个"))
    purpose, day, more = _purpose_and_date(body.get("purpose"), body.get("as_of"))
    errors += more
    if errors:
        return validation_failed(errors)
    results: list[dict[str, Any] | None] = [None] * len(usccs)
    valid: dict[int, str] = {}
    for position, raw in enumerate(usccs):
        try:
            valid[position] = _valid_code(raw)
        except UsccError as exc:
            results[position] = {"uscc": raw, "error": "invalid_uscc", "message": _uscc_error(exc)}
    answers, refused = _hot_answers(list(valid.values()), purpose, day)
    if refused is not None:
        return refused
    asked: list[tuple[int, HotAnswer]] = []
    for position, code in valid.items():
        answer = answers.get(code)  # type: ignore[union-attr]
        if answer is None:
            results[position] = {
                "uscc": code,
                "error": "not_found",
                "message": f"本局没有统一社会信用代码为 {code} 的市场主体",
            }
        else:
            asked.append((position, answer))
    given = _log([answer for _, answer in asked])
    if isinstance(given, Response):
        return given
    for (position, _), answer_given in zip(asked, given, strict=True):
        results[position] = answer_given
    return jsonify(results=results)
