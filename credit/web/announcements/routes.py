"""Spot-check announcements: upload with a preview (the import run and rolled back), the import itself,
the announcements and their rows, the confirmation queue (pick, register, refer), the referral list
and saved column mappings. Recorders act; reviewers approve the batches on the imports page."""

from __future__ import annotations

import base64
import binascii
import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from credit.announcements.layouts import FIELDS, Defaults
from credit.clock import parse_past_date
from credit.models import (
    Announcement,
    AnnouncementParty,
    AnnouncementRow,
    ColumnMapping,
    CreditEvent,
    EventStatus,
    FirmCreate,
    User,
)
from credit.models.announcement import OPEN_STATES
from credit.models.firm import FIRM_FIELDS
from credit.services.announcements import (
    AnnouncementError,
    AnnouncementSummary,
    import_announcement,
    mapping_by_name,
    save_mapping,
)
from credit.services.firms import FirmExists, firm_errors
from credit.services.name_queue import confirm_name as confirm_name_service
from credit.services.name_queue import firm_for_pick, mark_outside, referrals, register_and_confirm, waiting_names
from credit.services.pilot_codes import pilot_code_set
from credit.services.spreadsheet import CSV_MIMETYPE, csv_bytes
from credit.web.admin.forms import FirmForm
from credit.web.announcements.forms import ConfirmImportForm, MappingForm, OutsideForm, PickForm, UploadForm
from credit.web.db import get_session, unit_of_work
from credit.web.helpers import read_limits
from credit.web.security import STAFF, roles_required, safe_next

bp = Blueprint("announcements", __name__)
OPEN = [state.value for state in OPEN_STATES]
ROLE_TEXT = {
    "producer": _l("标称生产企业"),
    "commissioner": _l("委托方"),
    "importer": _l("进口商"),
    "distributor": _l("经销商"),
    "seller": _l("被抽样单位"),
}
STATE_TEXT = {
    "matched": _l("自动匹配"),
    "to_confirm": _l("待确认"),
    "unmatched": _l("未匹配"),
    "confirmed": _l("已确认"),
    "outside": _l("非本辖区"),
}
SKIP_TEXT = {
    "extra_cells": _l("列数多于表头"),
    "empty_row": _l("空行"),
    "date_in_name": _l("名称列是日期"),
    "bad_row_no": _l("序号不是数字"),
    "bad_outcome": _l("判定无法识别"),
    "bad_date": _l("日期无法识别或不在允许范围"),
    "no_date": _l("缺少公告日期"),
    "no_publisher": _l("缺少发布单位"),
    "no_failed_item": _l("不合格但未列明项目"),
    "no_firm": _l("未列明企业"),
    "duplicate_row": _l("重复的行"),
    "inexact_number": _l("数字单元格丢失数位"),
    "invalid_event": _l("不符合信用事件要求"),
}
FIELD_TEXT = {
    "row_no": _l("序号"),
    "producer": _l("标称生产企业名称"),
    "producer_address": _l("标称生产企业地址"),
    "seller": _l("被抽样单位名称"),
    "seller_address": _l("被抽样单位地址"),
    "product": _l("食品/产品名称"),
    "spec": _l("规格型号"),
    "brand": _l("商标"),
    "batch": _l("生产日期/批号"),
    "failed": _l("不合格项目║检验结果║标准值"),
    "item": _l("检测项目/不合格项目"),
    "result": _l("检验结果"),
    "unit": _l("单位"),
    "limit": _l("标准值/限量值"),
    "outcome": _l("判定/检验结论"),
    "category": _l("分类"),
    "number": _l("公告号"),
    "published_on": _l("公告日期"),
    "publisher": _l("发布单位"),
    "task": _l("任务来源/项目名称"),
    "lab": _l("检验机构"),
    "remark": _l("备注"),
}
LAYOUT_TEXT = {
    "samr": _l("总局公告表（序号、标称生产企业名称……公告号、公告日期）"),
    "provincial": _l("省局抽检信息表（物料名称、生产商、供应商……判定、发布单位、发布日期）"),
}


@bp.app_context_processor
def _labels() -> dict:
    return {
        "ROLE_TEXT": ROLE_TEXT,
        "STATE_TEXT": STATE_TEXT,
        "SKIP_TEXT": SKIP_TEXT,
        "FIELD_TEXT": FIELD_TEXT,
        "LAYOUT_TEXT": LAYOUT_TEXT,
    }


PREVIEW_ROWS = 50
QUEUE_PAGE = 25


def _me() -> User:
    return get_session().get(User, current_user.id)  # type: ignore[return-value]


def _mapping_choices() -> list[tuple[str, str]]:
    saved = get_session().exec(select(ColumnMapping.name).order_by(ColumnMapping.name)).all()
    return [("", _("自动识别（总局公告表、省局抽检信息表）"))] + [(name, name) for name in saved]


def _defaults(publisher: str, number: str, published_on: str, form=None) -> Defaults | None:
    day = None
    if published_on:
        try:
            day = parse_past_date(published_on, field=_("公告日期"))
        except ValueError as exc:
            if form is not None:
                form.published_on.errors.append(str(exc))
            else:
                flash(str(exc), "error")
            return None
    return Defaults(publisher=publisher.strip(), number=number.strip(), published_on=day)


def _run(data: bytes, filename: str, mapping_name: str, defaults: Defaults, *, dry_run: bool) -> AnnouncementSummary:
    mapping = mapping_by_name(get_session(), mapping_name) if mapping_name else None
    with unit_of_work() as session:
        summary = import_announcement(
            session,
            data,
            recorder=_me(),
            filename=filename,
            mapping=mapping,
            defaults=defaults,
            dry_run=dry_run,
            preview_rows=PREVIEW_ROWS if dry_run else 0,
            limits=read_limits(),
        )
    return summary


def _announcement_list():
    session = get_session()
    announcements = session.exec(select(Announcement).order_by(col(Announcement.id).desc()).limit(100)).all()
    ids = [a.id for a in announcements]
    states: dict[int, dict[str, int]] = {}
    if ids:
        for announcement_id, state, count in session.exec(
            select(AnnouncementParty.announcement_id, AnnouncementParty.state, func.count())
            .where(col(AnnouncementParty.announcement_id).in_(ids))
            .group_by(AnnouncementParty.announcement_id, AnnouncementParty.state)
        ).all():
            states.setdefault(announcement_id, {})[state] = count
    return announcements, states


@bp.route("/announcements", methods=["GET", "POST"])
@roles_required("recorder", "reviewer")
def announcement_list():
    form = UploadForm()
    form.mapping.choices = _mapping_choices()
    summary = confirm = None
    status = 200
    if form.validate_on_submit():
        if not current_user.has_role("recorder"):
            abort(403)
        defaults = _defaults(form.publisher.data or "", form.number.data or "", form.published_on.data or "", form)
        if defaults is not None:
            upload = form.file.data
            data = upload.read()
            filename = upload.filename or "announcement"
            summary = _run(data, filename, form.mapping.data or "", defaults, dry_run=True)
            if summary.ok:
                confirm = ConfirmImportForm(
                    formdata=None,
                    payload=base64.b64encode(data).decode("ascii"),
                    filename=filename,
                    mapping=form.mapping.data or "",
                    publisher=form.publisher.data or "",
                    number=form.number.data or "",
                    published_on=form.published_on.data or "",
                )
            else:
                status = 422
        else:
            status = 422
    elif form.errors:
        status = 422
    announcements, states = _announcement_list()
    return render_template(
        "announcements/index.html",
        form=form,
        summary=summary,
        confirm=confirm,
        announcements=announcements,
        states=states,
    ), status


@bp.route("/announcements/import", methods=["POST"])
@roles_required("recorder")
def announcement_import():
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        flash(_("请重新上传公告文件。"), "error")
        return redirect(url_for("announcements.announcement_list"))
    try:
        data = base64.b64decode(form.payload.data or "", validate=True)
    except (binascii.Error, ValueError):
        flash(_("请重新上传公告文件。"), "error")
        return redirect(url_for("announcements.announcement_list"))
    defaults = _defaults(form.publisher.data or "", form.number.data or "", form.published_on.data or "")
    if defaults is None:
        return redirect(url_for("announcements.announcement_list"))
    try:
        summary = _run(data, form.filename.data or "announcement", form.mapping.data or "", defaults, dry_run=False)
    except IntegrityError:  # the same announcement was being imported by someone else at this moment
        flash(_("同一公告正由他人导入，请稍后重试（重复导入不会新增记录）。"), "error")
        return redirect(url_for("announcements.announcement_list"))
    if not summary.ok:
        for error in summary.errors:
            flash(str(error), "error")
        return redirect(url_for("announcements.announcement_list"))
    flash(
        _(
            "已导入：%(rows)s 行，自动匹配 %(matched)s，待确认 %(confirm)s，未匹配 %(unmatched)s，非本辖区 %(outside)s；"
            "新增待审核事件 %(events)s 条，跳过 %(skipped)s 行，已导入过 %(again)s 行。",
            rows=summary.rows,
            matched=summary.matched,
            confirm=summary.to_confirm,
            unmatched=summary.unmatched,
            outside=summary.out_of_jurisdiction,
            events=summary.events_created,
            skipped=len(summary.skipped),
            again=summary.already_imported,
        ),
        "success",
    )
    if summary.to_confirm or summary.unmatched:
        return redirect(url_for("announcements.queue"))
    return redirect(url_for("announcements.announcement_list"))


@bp.route("/announcements/<int:announcement_id>")
@roles_required(*STAFF)
def announcement_detail(announcement_id: int):
    session = get_session()
    announcement = session.get(Announcement, announcement_id)
    if announcement is None:
        abort(404)
    rows = session.exec(
        select(AnnouncementRow)
        .where(AnnouncementRow.announcement_id == announcement_id)
        .order_by(AnnouncementRow.file_row)
        .limit(1000)
    ).all()
    parties: dict[int, list[AnnouncementParty]] = {}
    shown = [r.id for r in rows]
    if shown:
        for party in session.exec(
            select(AnnouncementParty).where(col(AnnouncementParty.row_id).in_(shown)).order_by(AnnouncementParty.id)
        ).all():
            parties.setdefault(party.row_id, []).append(party)
    pending = session.exec(
        select(func.count())
        .select_from(CreditEvent)
        .where(CreditEvent.import_batch_id == announcement.import_batch_id, CreditEvent.status == EventStatus.pending)
    ).one()
    return render_template(
        "announcements/detail.html",
        announcement=announcement,
        rows=rows,
        parties=parties,
        pending=pending,
    )


@bp.route("/announcements/queue")
@roles_required("recorder")
def queue():
    page = max(1, request.args.get("page", 1, type=int))
    announcement_id = request.args.get("announcement", type=int)
    names, total = waiting_names(
        get_session(), announcement_id=announcement_id, limit=QUEUE_PAGE, offset=(page - 1) * QUEUE_PAGE
    )
    return render_template(
        "announcements/queue.html",
        names=names,
        total=total,
        page=page,
        pages=max(1, -(-total // QUEUE_PAGE)),
        announcement_id=announcement_id,
        pick_form=PickForm(),
        outside_form=OutsideForm(),
    )


def _back_to_queue():
    return redirect(safe_next(request.form.get("next_url")) or url_for("announcements.queue"))


@bp.route("/announcements/queue/confirm", methods=["POST"])
@roles_required("recorder")
def confirm_name():
    form = PickForm()
    if not form.validate_on_submit():
        flash(_("请选择候选企业或填写统一社会信用代码。"), "error")
        return _back_to_queue()
    firm = firm_for_pick(get_session(), form.firm.data or "")
    if firm is None:
        flash(_("没有该企业：请从候选中选择，或填写已登记企业的统一社会信用代码。"), "error")
        return _back_to_queue()
    try:
        with unit_of_work() as session:
            decision = confirm_name_service(session, form.name_key.data or "", session.merge(firm), recorder=_me())
    except AnnouncementError as exc:
        flash(str(exc), "error")
    else:
        flash(
            _(
                "已确认为 %(name)s：%(n)s 行，新增待审核事件 %(events)s 条；此写法已记住。",
                name=firm.name,
                n=decision.parties,
                events=decision.events_created,
            ),
            "success",
        )
    return _back_to_queue()


@bp.route("/announcements/queue/outside", methods=["POST"])
@roles_required("recorder")
def mark_name_outside():
    form = OutsideForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                decision = mark_outside(session, form.name_key.data or "", recorder=_me(), note=form.note.data or "")
        except AnnouncementError as exc:
            flash(str(exc), "error")
        else:
            flash(_("已列入转办清单：%(n)s 行。", n=decision.parties), "success")
    return _back_to_queue()


@bp.route("/announcements/queue/register", methods=["GET", "POST"])
@roles_required("recorder")
def register_firm():
    key = request.values.get("key", "").strip()
    waiting = (
        get_session()
        .exec(
            select(AnnouncementParty)
            .where(AnnouncementParty.name_key == key, col(AnnouncementParty.state).in_(OPEN))
            .order_by(AnnouncementParty.id)
        )
        .first()
    )
    if waiting is None:
        abort(404)
    form = FirmForm()
    if request.method == "GET":
        form.name.data = waiting.name
        form.address.data = waiting.address
    if form.validate_on_submit():
        try:
            data = FirmCreate.model_validate(
                {f: getattr(form, f).data for f in FIRM_FIELDS},
                context={"pilot_codes": pilot_code_set(get_session())},
            )
        except ValidationError as exc:
            for error in firm_errors(exc):
                field = getattr(form, error.column, None)
                (field.errors if field is not None else form.form_errors).append(error.reason)
        else:
            try:
                with unit_of_work() as session:
                    firm, decision = register_and_confirm(session, key, data, recorder=_me())
            except FirmExists as exc:
                form.uscc.errors.append(str(exc))
            except AnnouncementError as exc:
                flash(str(exc), "error")
                return redirect(url_for("announcements.queue"))
            else:
                flash(
                    _(
                        "已登记 %(name)s 并确认：新增待审核事件 %(events)s 条。",
                        name=firm.name,
                        events=decision.events_created,
                    ),
                    "success",
                )
                return redirect(url_for("announcements.queue"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("announcements/register.html", form=form, waiting=waiting, key=key), status


@bp.route("/announcements/referrals")
@roles_required(*STAFF)
def referral_list():
    return render_template("announcements/referrals.html", referrals=referrals(get_session(), limit=500))


@bp.route("/announcements/referrals.csv")
@roles_required(*STAFF)
def referral_csv():
    titles = (_("企业名称"), _("身份"), _("地址"), _("产品"), _("结果"), _("不合格项目"), _("检验结果"), _("标准值"),
              _("公告"), _("公告日期"), _("文书号"), _("转办说明"))  # fmt: skip
    rows = [
        [r.name, str(ROLE_TEXT.get(r.role, r.role)), r.address, r.product,
         _("不合格") if r.event_type == "spot_check_fail" else _("合格"), r.failed_item,
         r.failed_result, r.failed_limit, r.announcement, r.published_on, r.document_no, r.note]
        for r in referrals(get_session(), limit=None)
    ]  # fmt: skip
    data = io.BytesIO(csv_bytes([str(t) for t in titles], rows))
    return send_file(data, mimetype=CSV_MIMETYPE, as_attachment=True, download_name="referrals.csv")


@bp.route("/announcements/mappings", methods=["GET", "POST"])
@roles_required("recorder")
def mappings():
    form = MappingForm()
    status = 200
    if request.method == "GET" and request.args.get("name"):
        saved = mapping_by_name(get_session(), request.args["name"])
        if saved is not None:
            form.name.data = saved.name
            for name, title in saved.columns.items():
                getattr(form, f"col_{name}").data = title
    if form.validate_on_submit():
        columns = {name: getattr(form, f"col_{name}").data or "" for name in FIELDS}
        try:
            with unit_of_work() as session:
                save_mapping(session, form.name.data or "", columns, user=_me())
        except AnnouncementError as exc:
            form.form_errors.append(str(exc))
            status = 422
        else:
            flash(_("已保存列对应关系「%(name)s」。", name=form.name.data), "success")
            return redirect(url_for("announcements.mappings"))
    elif form.errors:
        status = 422
    saved_all = get_session().exec(select(ColumnMapping).order_by(ColumnMapping.name)).all()
    return render_template("announcements/mappings.html", form=form, saved=saved_all, fields=FIELDS), status
