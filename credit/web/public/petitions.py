"""The public objection and credit-repair form (`/objections/new`) and the status page by reference.

Anonymous, so it guards itself without any outside service (government intranets are offline): CSRF like
every form, a honeypot field, a minimum fill time and an arithmetic question, both carried in a token
signed with the app's secret, and a daily limit per client (a salted hash of its address, never the
address itself)."""

from __future__ import annotations

import hashlib
import secrets
import time

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from credit.models import CreditEvent, Firm, Listing
from credit.services.due_process import (
    PUBLIC_DAILY_LIMIT,
    DueProcessError,
    file_petition,
    find_record,
    get_petition,
    normalise_reference,
    open_entry,
)
from credit.services.firms import get_firm
from credit.services.pilot_codes import validate_code
from credit.uscc import UsccError
from credit.web.db import get_session, unit_of_work
from credit.web.dueprocess.forms import PublicPetitionForm
from credit.web.dueprocess.routes import displayed_rules
from credit.web.public.routes import bp

FORM_SALT = "credit.petition-form"
# Defaults; app.config may set PETITION_MIN_SECONDS, PETITION_MAX_AGE and PETITION_DAILY_LIMIT.
MIN_SECONDS = 5
MAX_AGE = 2 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=FORM_SALT)  # type: ignore[arg-type]


def new_challenge() -> tuple[str, int, int]:
    """A signed token holding the question and, through its signature time, when the form was served."""
    a, b = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
    return _serializer().dumps({"a": a, "b": b, "n": secrets.token_hex(4)}), a, b


def challenge_error(token: str, answer: str) -> tuple[str, str] | None:
    """(field, message) when the token is forged or stale, the form came back too fast, or the answer is
    wrong; None when all is well."""
    try:
        payload, issued = _serializer().loads(
            token or "", max_age=current_app.config.get("PETITION_MAX_AGE", MAX_AGE), return_timestamp=True
        )
    except SignatureExpired:
        return "", _("表单已过期,请重新作答验证问题后提交。")
    except BadSignature:
        return "", _("验证信息无效,请重新作答验证问题后提交。")
    if time.time() - issued.timestamp() < current_app.config.get("PETITION_MIN_SECONDS", MIN_SECONDS):
        return "", _("提交过快,请核对填写的内容后再提交。")
    try:
        expected = int(payload["a"]) + int(payload["b"])
        given = int(str(answer or "").strip())
    except (KeyError, TypeError, ValueError):
        return "answer", _("请用阿拉伯数字填写验证问题的答案。")
    if given != expected:
        return "answer", _("验证问题的答案不正确。")
    return None


def client_hash() -> str:
    """The filer's address, salted with the app's secret and hashed: enough to count, nothing to read."""
    secret = str(current_app.secret_key or "")
    return hashlib.sha256((secret + (request.remote_addr or "")).encode()).hexdigest()


def _resolve(form: PublicPetitionForm) -> tuple[Firm, Listing | None, CreditEvent | None] | None:
    """The firm and the record or entry the form names; puts the reason on the form when not found."""
    try:
        uscc = validate_code(get_session(), (form.uscc.data or "").strip().upper())
    except UsccError as exc:
        form.uscc.errors.append(exc.message)  # type: ignore[attr-defined]
        return None
    session = get_session()
    firm = get_firm(session, uscc)
    if firm is None:
        form.uscc.errors.append(_("统一社会信用代码 %(uscc)s 未登记。", uscc=uscc))  # type: ignore[attr-defined]
        return None
    target = "black" if form.kind.data == "repair" else form.target.data
    if target == "record":
        document_no = (form.document_no.data or "").strip()
        if not document_no:
            form.document_no.errors.append(_("对信用记录提出异议,请填写该记录的文书号。"))  # type: ignore[attr-defined]
            return None
        event = find_record(session, firm, document_no)
        if event is None:
            form.document_no.errors.append(_("未找到该企业文书号为「%(no)s」的有效信用记录。", no=document_no))  # type: ignore[attr-defined]
            return None
        return firm, None, event
    listing = open_entry(session, firm, target or "")
    if listing is None:
        form.target.errors.append(_("该企业没有拟列入或已列入的相应榜单条目。"))  # type: ignore[attr-defined]
        return None
    return firm, listing, None


def _render(form: PublicPetitionForm, status: int = 200):
    token, a, b = new_challenge()
    form.form_token.data = token
    form.answer.data = ""
    form.website.data = ""
    rules = displayed_rules(get_session())
    return render_template(
        "public/objection_form.html",
        form=form,
        question=_("%(a)s 加 %(b)s 等于几?", a=a, b=b),
        repair_min_months=rules.black.repair_min_months,
        objection_days=rules.black.objection_working_days,
    ), status


@bp.route("/objections/new", methods=["GET", "POST"])
def objection_new():
    form = PublicPetitionForm()
    if request.method == "GET":
        form.uscc.data = request.args.get("uscc", "").strip()[:18]
        if request.args.get("kind") in ("objection", "repair"):
            form.kind.data = request.args["kind"]
        if request.args.get("target") in ("record", "black", "red"):
            form.target.data = request.args["target"]
        return _render(form)
    if form.website.data:
        # A robot filled the honeypot: refuse without saying why, write nothing.
        form.form_errors.append(_("提交未被受理。"))
        return _render(form, 400)
    if not form.validate_on_submit():
        return _render(form, 422)
    problem = challenge_error(form.form_token.data or "", form.answer.data or "")
    if problem is not None:
        field, message = problem
        (form.answer.errors if field == "answer" else form.form_errors).append(message)  # type: ignore[union-attr]
        return _render(form, 422)
    found = _resolve(form)
    if found is None:
        return _render(form, 422)
    firm, listing, event = found
    try:
        with unit_of_work() as session:
            petition = file_petition(
                session,
                kind=form.kind.data or "",
                firm=firm,
                listing=listing,
                event=event,
                applicant_name=form.applicant_name.data or "",
                applicant_contact=form.applicant_contact.data or "",
                statement=form.statement.data or "",
                filed_via="public",
                client_hash=client_hash(),
                daily_limit=current_app.config.get("PETITION_DAILY_LIMIT", PUBLIC_DAILY_LIMIT),
            )
    except DueProcessError as exc:
        field = (
            getattr(form, exc.field, None)
            if exc.field in ("applicant_name", "applicant_contact", "statement")
            else None
        )
        (field.errors if field is not None else form.form_errors).append(exc.message)  # type: ignore[union-attr]
        return _render(form, 429 if exc.limited else 422)
    flash(_("已受理,受理编号 %(ref)s。请记下此编号,凭编号查询办理进度和结果。", ref=petition.reference), "success")
    return redirect(url_for("public.objection_status", reference=petition.reference))


@bp.route("/objections/lookup")
def objection_lookup():
    """The look-up box: go to the status page of a reference."""
    reference = normalise_reference(request.args.get("reference", ""))[:20]
    if not reference:
        return redirect(url_for("public.objection_new"))
    return redirect(url_for("public.objection_status", reference=reference))


@bp.route("/objections/<reference>")
def objection_status(reference: str):
    """Status and decision of a petition, for whoever holds its reference (nothing of the applicant)."""
    session = get_session()
    petition = get_petition(session, reference)
    if petition is None:
        abort(404)
    firm = session.get(Firm, petition.firm_id)
    listing = session.get(Listing, petition.listing_id) if petition.listing_id else None
    event = session.get(CreditEvent, petition.event_id) if petition.event_id else None
    return render_template("public/objection_status.html", petition=petition, firm=firm, listing=listing, event=event)
