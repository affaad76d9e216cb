"""Rule-set versions for admins: every version, the difference between two, a new version, activation
(which re-assesses every firm)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import col, select
from wtforms import HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from credit.clock import today
from credit.db import begin_write
from credit.models import RuleSetVersion
from credit.rules.ruleset import RuleSetError
from credit.services.activation import ActivationEffect, activate_with_effect, preview_activation
from credit.services.rulesets import active_version, diff_versions, ruleset_of, save_version
from credit.web.admin.routes import confirm_page
from credit.web.db import get_session, unit_of_work
from credit.web.security import STAFF, roles_required

bp = Blueprint("rules", __name__)


class RuleSetForm(FlaskForm):
    text = TextAreaField(_l("规则集(TOML 或 JSON)"), validators=[DataRequired(), Length(max=200_000)])
    note = StringField(_l("修改说明"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("保存为新版本"))


class ActivateForm(FlaskForm):
    confirmed = HiddenField()  # set by the confirmation page: the first POST only shows the effect
    submit = SubmitField(_l("启用此版本并重新评价全部企业"))


def _version_or_404(version: int) -> RuleSetVersion:
    row = get_session().get(RuleSetVersion, version)
    if row is None:
        abort(404)
    return row


@bp.route("/rules")
@roles_required(*STAFF)
def version_list():
    session = get_session()
    active_version(session)  # the default exists from the first look on
    versions = session.exec(select(RuleSetVersion).order_by(col(RuleSetVersion.version).desc())).all()
    return render_template("rules/version_list.html", versions=versions)


@bp.route("/rules/<int:version>")
@roles_required(*STAFF)
def version_detail(version: int):
    row = _version_or_404(version)
    return render_template("rules/version_detail.html", row=row, rules=ruleset_of(row), form=ActivateForm())


@bp.route("/rules/diff")
@roles_required(*STAFF)
def version_diff():
    old = _version_or_404(request.args.get("a", type=int) or 0)
    new = _version_or_404(request.args.get("b", type=int) or 0)
    return render_template("rules/version_diff.html", old=old, new=new, lines=diff_versions(old, new))


@bp.route("/rules/new", methods=["GET", "POST"])
@roles_required("admin")
def version_new():
    form = RuleSetForm()
    if request.method == "GET":
        form.text.data = active_version(get_session()).source_text
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                row = save_version(
                    session, form.text.data or "", note=form.note.data or "", created_by=current_user.username
                )
        except RuleSetError as exc:
            form.text.errors.append(str(exc))
        else:
            flash(_("已保存为版本 %(v)s(尚未启用)。", v=row.version), "success")
            return redirect(url_for("rules.version_detail", version=row.version))
    return render_template("rules/version_form.html", form=form), 422 if form.errors else 200


def grade_name(grade: str | None) -> str:
    return grade if grade else str(_l("未评价"))


def effect_lines(effect: ActivationEffect, name: str) -> list[str]:
    """The confirmation page's account of an activation's effect."""
    lines = [
        _(
            "启用版本 %(v)s（%(name)s），并按 %(day)s 重新评价全部 %(n)s 家企业。",
            v=effect.version,
            name=name,
            day=effect.as_of,
            n=effect.firms,
        ),
        _("等级改变的企业：%(n)s 家。", n=effect.changed),
    ]
    lines += [
        _("%(before)s → %(after)s：%(n)s 家", before=grade_name(before), after=after, n=n)
        for before, after, n in effect.transitions
    ]
    lines.append(_("新增黑榜拟列入：%(n)s 家（送达告知书、异议期满后方可决定）。", n=effect.black_proposed))
    lines.append(_("新列入红榜：%(n)s 家；红榜续期：%(r)s 家。", n=effect.red_listed, r=effect.red_renewed))
    return lines


@bp.route("/rules/<int:version>/activate", methods=["POST"])
@roles_required("admin")
def version_activate(version: int):
    row = _version_or_404(version)
    form = ActivateForm()
    if not form.validate_on_submit():
        return redirect(url_for("rules.version_detail", version=version))
    if form.confirmed.data != "yes":
        # The first POST shows the effect and changes nothing: the run is made and rolled back.
        session = get_session()
        begin_write(session)
        try:
            effect = preview_activation(session, version, as_of=today())
        finally:
            session.rollback()
        return confirm_page(
            title=_("启用规则集版本 %(v)s", v=version),
            effects=effect_lines(effect, row.name),
            action=url_for("rules.version_activate", version=version),
            form=form,
            confirm_label=_("确认启用"),
            back=url_for("rules.version_detail", version=version),
        )
    with unit_of_work() as session:
        effect = activate_with_effect(session, version, as_of=today())
    flash(
        _(
            "版本 %(v)s 已启用，已重新评价 %(n)s 家企业：%(c)s 家等级改变，新增黑榜拟列入 %(b)s 家，新列入红榜 %(r)s 家。",
            v=version,
            n=effect.firms,
            c=effect.changed,
            b=effect.black_proposed,
            r=effect.red_listed,
        ),
        "success",
    )
    return redirect(url_for("rules.version_detail", version=version))
