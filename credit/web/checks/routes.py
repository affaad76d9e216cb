"""Checkers check firms for a purpose (one or a pasted list) and print receipts (核查回执); admins read
and export the check log. Every web check is logged like an API check (channel `web`)."""

from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, Response, abort, make_response, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import select

from credit.clock import BUREAU_TZ, parse_past_date
from credit.db import retry_write
from credit.models import CreditCheck, SigningKey, User
from credit.rules.ruleset import PURPOSE_LABELS
from credit.services.check_log import (
    CHECKS_PER_PAGE,
    CheckQuery,
    confirm_receipt,
    count_checks,
    get_check,
    search_checks,
)
from credit.services.hot_checks import Caller, answer_checks, config_cache, log_answers
from credit.services.pilot_codes import validate_code
from credit.services.signing import verification_code, verify
from credit.services.spreadsheet import CSV_MIMETYPE, csv_bytes
from credit.uscc import UsccError
from credit.web.checks.forms import MAX_LINES, CheckForm, ReceiptVerifyForm
from credit.web.db import engine, get_session, signing_key_dir, unit_of_work
from credit.web.helpers import date_arg, filter_errors
from credit.web.security import roles_required

bp = Blueprint("checks", __name__)


def _me() -> User:
    return get_session().get(User, current_user.id)  # type: ignore[return-value]


@bp.route("/check", methods=["GET", "POST"])
@roles_required("checker")
def check_form():
    """Check one firm or a list; each answer is logged and gets a printable receipt."""
    form = CheckForm()
    rows: list[dict] = []
    if form.validate_on_submit():
        lines = [line.strip() for line in (form.usccs.data or "").splitlines() if line.strip()]
        day: date | None = None
        if form.as_of.data:
            try:
                day = parse_past_date(form.as_of.data, field=_("核查日"))
            except ValueError as exc:
                form.as_of.errors = [str(exc)]  # type: ignore[assignment]
        if len(lines) > MAX_LINES:
            form.usccs.errors = [_("一次至多核查 %(n)s 个,实为 %(m)s 个", n=MAX_LINES, m=len(lines))]  # type: ignore[assignment]
        if not form.errors:
            rows = _check_lines(lines, form.purpose.data or "", day)
    status = 422 if form.errors else 200
    return render_template("checks/check.html", form=form, rows=rows, purposes=PURPOSE_LABELS), status


def _check_lines(lines: list[str], purpose: str, day: date | None) -> list[dict]:
    """One row per line, in order: the logged check, or why the line could not be checked."""
    rows: list[dict] = [{"uscc": line} for line in lines]
    valid: dict[int, str] = {}
    for position, line in enumerate(lines):
        try:
            valid[position] = validate_code(get_session(), line)
        except UsccError as exc:
            rows[position]["error"] = exc.message

    def unit() -> list[tuple[int, CreditCheck]]:
        with unit_of_work() as session:
            answers, _changed = answer_checks(
                session.connection(), list(valid.values()), purpose=purpose, as_of=day, cache=config_cache(engine())
            )
            asked = []
            for position, code in valid.items():
                answer = answers.get(code)
                if answer is None:
                    rows[position]["error"] = _("本局没有统一社会信用代码为 %(uscc)s 的市场主体", uscc=code)
                else:
                    asked.append((position, answer))
            me = _me()
            caller = Caller("web", department=me.department, user_id=me.id, username=me.username)
            conn = session.connection()
            signer = config_cache(engine()).signer(conn, signing_key_dir())
            logged = log_answers(conn, [a for _, a in asked], caller, signer=signer)
        return [(position, CreditCheck(**row)) for (position, _a), row in zip(asked, logged, strict=True)]

    for position, check in retry_write(unit):
        rows[position]["check"] = check
    return rows


@bp.route("/check/receipts/<receipt>")
@roles_required("checker", "admin")
def receipt(receipt: str):
    """The printable receipt of one check: checkers see their own, admins any."""
    check = get_check(get_session(), receipt)
    if check is None:
        abort(404)
    if not current_user.has_role("admin") and check.user_id != current_user.id:
        abort(403)
    return render_template(
        "checks/receipt.html", check=check, purposes=PURPOSE_LABELS, code=_code(check), key=_key(check)
    )


def _code(check: CreditCheck) -> str | None:
    signature = (check.answer or {}).get("signature")
    return verification_code(signature) if signature else None


def _key(check: CreditCheck) -> SigningKey | None:
    key_id = (check.answer or {}).get("key_id")
    if not key_id:
        return None
    return get_session().exec(select(SigningKey).where(SigningKey.key_id == key_id)).first()


@bp.route("/receipts/verify", methods=["GET", "POST"])
def receipt_verify():
    """Anyone holding a receipt confirms it (public): the receipt number and its verification code show
    the answer as given and whether the bureau's signature on it holds. A wrong code and an unknown
    receipt read alike; the code's 80 bits are the guard (services.check_log.confirm_receipt)."""
    form = ReceiptVerifyForm()
    check = None
    valid = False
    status = 200
    if form.validate_on_submit():
        check = confirm_receipt(get_session(), form.receipt.data or "", form.code.data or "")
        if check is None:
            form.code.errors = [_("回执编号或验证码不符。")]  # type: ignore[assignment]
            status = 404
        else:
            key = _key(check)
            valid = key is not None and verify(check.answer, key.public_key)
    elif form.errors:
        status = 422
    response = make_response(
        render_template(
            "checks/receipt_verify.html",
            form=form,
            check=check,
            valid=valid,
            key=_key(check) if check else None,
            purposes=PURPOSE_LABELS,
        ),
        status,
    )
    response.headers["Cache-Control"] = "no-store"  # an answer shown to the holder of its code, to no cache
    return response


def _query() -> CheckQuery:
    return CheckQuery(
        who=request.args.get("who", "").strip(),
        uscc=request.args.get("uscc", "").strip(),
        date_from=date_arg("from", _("起始日期")),
        date_to=date_arg("to", _("截止日期")),
        channel=request.args.get("channel", "").strip(),
    )


@bp.route("/admin/checks")
@roles_required("admin")
def check_log():
    """Every check, newest first, filtered by department or user, firm and date."""
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    session = get_session()
    query = _query()
    total = count_checks(session, query)
    checks = search_checks(session, query, page=page)
    pages = max(1, -(-total // CHECKS_PER_PAGE))
    return render_template(
        "checks/log.html", checks=checks, total=total, page=page, pages=pages, purposes=PURPOSE_LABELS
    )


CSV_HEADER = (
    "receipt",
    "checked_at",
    "channel",
    "department",
    "username",
    "uscc",
    "name",
    "purpose",
    "as_of",
    "grade",
    "score",
    "lists",
    "measures",
    "rule_set_version",
)


def csv_row(check: CreditCheck) -> list[str]:
    answer = check.answer
    return [
        check.receipt,
        check.checked_at.astimezone(BUREAU_TZ).strftime("%Y-%m-%d %H:%M:%S"),
        check.channel,
        check.department,
        check.username,
        check.uscc,
        answer.get("name", ""),
        check.purpose,
        check.as_of.isoformat(),
        check.grade,
        str(answer.get("score", "")),
        ";".join(f"{e['list']}:{e['status']}" for e in answer.get("lists", [])),
        ";".join(m["code"] for m in answer.get("measures", [])),
        str(check.rule_set_version),
    ]


@bp.route("/admin/checks.csv")
@roles_required("admin")
def check_log_csv():
    """The filtered check log as UTF-8 CSV with a BOM (Excel opens it as UTF-8)."""
    query = _query()
    if filter_errors():
        return Response("\n".join(filter_errors()) + "\n", status=422, mimetype="text/plain")
    rows = (csv_row(check) for check in search_checks(get_session(), query, per_page=None))
    data = io.BytesIO(csv_bytes(CSV_HEADER, rows))
    return send_file(data, mimetype=CSV_MIMETYPE, as_attachment=True, download_name="credit-checks.csv")
