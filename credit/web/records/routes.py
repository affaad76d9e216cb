"""The credit file in the browser: record and correct events (recorders), review them (reviewers),
import files, revoke with a reason. Nothing is ever deleted."""

from __future__ import annotations

import io
from collections.abc import Iterable

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import col, func, select

from credit.models import CreditEvent, EventStatus, Firm, ImportBatch, User
from credit.services.audit import audit_entries
from credit.services.event_import import import_events, template_rows
from credit.services.event_input import EVENT_FIELDS
from credit.services.events import (
    EventError,
    approve_batch,
    approve_event,
    correct_event,
    pending_events,
    record_event,
    reject_event,
    revoke_event,
    users_by_id,
)
from credit.services.spreadsheet import CSV_MIMETYPE, XLSX_MIMETYPE, csv_bytes, xlsx_bytes
from credit.web.db import get_session, unit_of_work
from credit.web.helpers import read_limits
from credit.web.records.forms import (
    ApproveForm,
    BatchApproveForm,
    CorrectionForm,
    EventForm,
    ImportForm,
    RejectForm,
    RevokeForm,
)
from credit.web.security import STAFF, roles_required, safe_next

bp = Blueprint("records", __name__)

FORM_FIELDS = (*EVENT_FIELDS[:-1], "rectifies_document_no")


def _me() -> User:
    """The signed-in user as a row of this request's session."""
    return get_session().get(User, current_user.id)  # type: ignore[return-value]


def _event_or_404(event_id: int) -> CreditEvent:
    event = get_session().get(CreditEvent, event_id)
    if event is None:
        abort(404)
    return event


def _put_errors(form, exc: EventError) -> None:
    for error in exc.errors:
        field = getattr(form, error.field, None) if error.field else None
        (field.errors if field is not None else form.form_errors).append(error.message)


def _raw(form: EventForm) -> dict:
    return {name: getattr(form, name).data for name in FORM_FIELDS}


def context_for(events: Iterable[CreditEvent]) -> dict:
    """The people and firms named on a list of events, fetched in two queries."""
    events = list(events)
    session = get_session()
    people = users_by_id(
        session, (uid for e in events for uid in (e.recorded_by_id, e.reviewed_by_id, e.revoked_by_id))
    )
    firm_ids = {e.firm_id for e in events}
    firms = {f.id: f for f in session.exec(select(Firm).where(col(Firm.id).in_(firm_ids)))} if firm_ids else {}
    return {"people": people, "firms": firms}


@bp.route("/events/new", methods=["GET", "POST"])
@roles_required("recorder")
def event_new():
    form = EventForm()
    if request.method == "GET" and request.args.get("uscc"):
        form.uscc.data = request.args["uscc"].strip()[:18]
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                event = record_event(session, _raw(form), recorder=_me(), source="form")
        except EventError as exc:
            _put_errors(form, exc)
        else:
            flash(_("已录入,等待审核(#%(id)s)。", id=event.id), "success")
            return redirect(url_for("records.event_detail", event_id=event.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("records/event_form.html", form=form, original=None), status


@bp.route("/events/<int:event_id>")
@roles_required(*STAFF)
def event_detail(event_id: int):
    event = _event_or_404(event_id)
    session = get_session()
    related = session.exec(
        select(CreditEvent).where(
            (CreditEvent.id == event.corrects_id)
            | (CreditEvent.corrects_id == event.id)
            | (CreditEvent.id == event.rectifies_id)
            | (CreditEvent.rectifies_id == event.id)
        )
    ).all()
    history = audit_entries(session, entity="credit_event", entity_id=str(event.id), limit=100)
    return render_template(
        "records/event_detail.html",
        event=event,
        related=related,
        history=history,
        approve_form=ApproveForm(prefix="approve"),
        reject_form=RejectForm(prefix="reject"),
        revoke_form=RevokeForm(prefix="revoke"),
        **context_for([event, *related]),
    )


def _decide(event_id: int, form, action) -> object:
    event = _event_or_404(event_id)
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                action(session, session.merge(event), form)
        except EventError as exc:
            flash(str(exc), "error")
        else:
            return redirect(
                safe_next(request.form.get("next_url")) or url_for("records.event_detail", event_id=event_id)
            )
    else:
        for name, errors in form.errors.items():
            for error in errors:
                flash(f"{getattr(form, name).label.text}:{error}", "error")
    return redirect(url_for("records.event_detail", event_id=event_id))


@bp.route("/events/<int:event_id>/approve", methods=["POST"])
@roles_required("reviewer")
def event_approve(event_id: int):
    def act(session, event, form):
        approve_event(session, event, _me(), form.note.data or "")
        flash(_("已审核通过 #%(id)s。", id=event.id), "success")

    return _decide(event_id, ApproveForm(prefix="approve"), act)


@bp.route("/events/<int:event_id>/reject", methods=["POST"])
@roles_required("reviewer")
def event_reject(event_id: int):
    def act(session, event, form):
        reject_event(session, event, _me(), form.reason.data or "")
        flash(_("已驳回 #%(id)s。", id=event.id), "success")

    return _decide(event_id, RejectForm(prefix="reject"), act)


@bp.route("/events/<int:event_id>/revoke", methods=["POST"])
@roles_required("reviewer")
def event_revoke(event_id: int):
    def act(session, event, form):
        revoke_event(session, event, _me(), form.reason.data or "")
        flash(_("已撤销 #%(id)s。", id=event.id), "success")

    return _decide(event_id, RevokeForm(prefix="revoke"), act)


@bp.route("/events/<int:event_id>/correct", methods=["GET", "POST"])
@roles_required("recorder")
def event_correct(event_id: int):
    original = _event_or_404(event_id)
    if original.status not in (EventStatus.effective, EventStatus.rejected):
        flash(_("只能更正已生效或已驳回的事件。"), "error")
        return redirect(url_for("records.event_detail", event_id=event_id))
    form = CorrectionForm()
    firm = get_session().get(Firm, original.firm_id)
    if request.method == "GET":
        for name in FORM_FIELDS:
            if name == "uscc":
                form.uscc.data = firm.uscc if firm else ""
            elif name == "rectifies_document_no":
                continue
            else:
                value = getattr(original, name)
                getattr(form, name).data = "" if value is None else str(value)
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                event = correct_event(
                    session, session.merge(original), _raw(form), recorder=_me(), reason=form.reason.data or ""
                )
        except EventError as exc:
            _put_errors(form, exc)
        else:
            flash(_("更正已提交,等待审核(#%(id)s)。", id=event.id), "success")
            return redirect(url_for("records.event_detail", event_id=event.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("records/event_form.html", form=form, original=original), status


@bp.route("/review")
@roles_required("reviewer")
def review_queue():
    session = get_session()
    batch_id = request.args.get("batch", type=int)
    events = pending_events(session, batch_id=batch_id, limit=500)
    total = session.exec(
        select(func.count()).select_from(CreditEvent).where(CreditEvent.status == EventStatus.pending)
    ).one()
    return render_template(
        "records/review_queue.html",
        events=events,
        total=total,
        batch_id=batch_id,
        approve_form=ApproveForm(prefix="approve"),
        **context_for(events),
    )


@bp.route("/imports", methods=["GET", "POST"])
@roles_required("recorder", "reviewer")
def import_list():
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        if not current_user.has_role("recorder"):
            abort(403)
        upload = form.file.data
        with unit_of_work() as session:
            report = import_events(
                session,
                upload.stream,
                filename=upload.filename or "upload",
                recorder=_me(),
                limits=read_limits(),
            )
            if not report.ok:
                session.rollback()
        if report.ok:
            flash(
                _(
                    "导入完成:%(rows)s 行,新增 %(created)s 条待审核,已存在 %(skipped)s 条。",
                    rows=report.rows,
                    created=report.created,
                    skipped=report.skipped,
                ),
                "success",
            )
    session = get_session()
    pending = (
        select(CreditEvent.import_batch_id, func.count())
        .where(CreditEvent.status == EventStatus.pending, col(CreditEvent.import_batch_id).is_not(None))
        .group_by(CreditEvent.import_batch_id)
    )
    pending_counts = dict(session.exec(pending).all())
    batches = session.exec(select(ImportBatch).order_by(col(ImportBatch.id).desc()).limit(100)).all()
    people = users_by_id(session, (b.recorded_by_id for b in batches))
    status = 422 if (report is not None and not report.ok) or form.errors else 200
    return render_template(
        "records/imports.html",
        form=form,
        report=report,
        batches=batches,
        pending_counts=pending_counts,
        people=people,
        batch_form=BatchApproveForm(prefix="batch"),
    ), status


@bp.route("/imports/<int:batch_id>/approve", methods=["POST"])
@roles_required("reviewer")
def batch_approve(batch_id: int):
    batch = get_session().get(ImportBatch, batch_id)
    if batch is None:
        abort(404)
    form = BatchApproveForm(prefix="batch")
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                result = approve_batch(session, session.merge(batch), _me())
        except EventError as exc:
            flash(str(exc), "error")
        else:
            message = _("批次 #%(id)s:审核通过 %(n)s 条。", id=batch_id, n=result.approved)
            if result.skipped_own:
                message += " " + _("%(n)s 条为您本人录入,须由他人审核。", n=result.skipped_own)
            flash(message, "success")
    return redirect(url_for("records.import_list"))


@bp.route("/imports/template.<fmt>")
@roles_required("recorder", "reviewer")
def import_template(fmt: str):
    rows = template_rows()
    if fmt == "csv":
        data = io.BytesIO(csv_bytes(None, rows))
        return send_file(data, mimetype=CSV_MIMETYPE, as_attachment=True, download_name="credit-events-template.csv")
    if fmt == "xlsx":
        # USCCs are text: never let a spreadsheet turn them into numbers.
        data = io.BytesIO(xlsx_bytes([("Sheet", None, rows)], text_columns=frozenset({0})))
        return send_file(data, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name="credit-events-template.xlsx")
    abort(404)
