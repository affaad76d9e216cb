"""Admin pages for the official working-day calendar (法定工作日历) and for withdrawing a publication made
in error. Routes on the admin blueprint."""

from __future__ import annotations

import re
from datetime import date, timedelta

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from credit.rules.calendar import CalendarError
from credit.services.calendar import load_year, loaded_years, working_calendar, year_versions
from credit.services.publications import (
    PublicationError,
    get_publication,
    list_publications,
    withdraw_publication,
    withdrawals,
)
from credit.web.admin.routes import bp
from credit.web.db import get_session, unit_of_work
from credit.web.security import STAFF, roles_required

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CalendarYearForm(FlaskForm):
    """One year as the State Council's notice publishes it: the days off and the make-up working days."""

    year = IntegerField(_l("年份"), validators=[DataRequired(), NumberRange(min=1990, max=9998)])
    source = StringField(
        _l("来源(通知文号)"),
        validators=[DataRequired(), Length(max=300)],
        render_kw={"placeholder": "国办发明电〔2026〕…号"},
    )
    holidays = TextAreaField(
        _l("放假日期"),
        validators=[Optional(), Length(max=4000)],
        render_kw={"rows": 6, "placeholder": "2027-01-01\n2027-02-06..2027-02-12"},
    )
    workdays = TextAreaField(
        _l("调休上班日期"),
        validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 3, "placeholder": "2027-02-14"},
    )
    note = StringField(_l("备注"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("保存为新版本"))


class WithdrawForm(FlaskForm):
    reason = TextAreaField(
        _l("撤回理由(向社会公开)"), validators=[DataRequired(), Length(max=1000)], render_kw={"rows": 3}
    )
    submit = SubmitField(_l("确认撤回"))


def parse_days(text: str) -> list[str]:
    """Dates written one per line or separated by spaces or commas; `a..b` stands for every day from a to b.
    Raises CalendarError naming what cannot be read."""
    days: list[str] = []
    for token in re.split(r"[\s,,、;;]+", text or ""):
        if not token:
            continue
        first, _sep, last = token.partition("..")
        if not _DATE.fullmatch(first) or (last and not _DATE.fullmatch(last)):
            raise CalendarError(f"「{token}」不是 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD")
        try:
            start = date.fromisoformat(first)
            end = date.fromisoformat(last) if last else start
        except ValueError:
            raise CalendarError(f"「{token}」不是有效日期") from None
        if end < start or (end - start).days > 31:
            raise CalendarError(f"「{token}」的日期范围无效")
        days += [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
    return days


@bp.route("/calendar")
@roles_required(*STAFF)
def calendar_list():
    session = get_session()
    return render_template("admin/calendar_list.html", years=loaded_years(session))


@bp.route("/calendar/<int:year>")
@roles_required(*STAFF)
def calendar_year(year: int):
    session = get_session()
    versions = year_versions(session, year)
    if not versions:
        abort(404)
    current = working_calendar(session).years[year]
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    working = sum(1 for n in range(days) if current.is_working_day(first + timedelta(days=n)))
    return render_template(
        "admin/calendar_year.html", year=year, versions=versions, current=current, working=working, days=days
    )


@bp.route("/calendar/new", methods=["GET", "POST"])
@roles_required("admin")
def calendar_new():
    form = CalendarYearForm()
    if form.validate_on_submit():
        try:
            holidays = parse_days(form.holidays.data or "")
            workdays = parse_days(form.workdays.data or "")
            with unit_of_work() as session:
                loaded = load_year(
                    session,
                    year=form.year.data,  # type: ignore[arg-type]
                    holidays=holidays,
                    workdays=workdays,
                    source=form.source.data or "",
                    note=form.note.data or "",
                    created_by=current_user.username,
                )
                year, version, created, changed = (
                    loaded.row.year,
                    loaded.row.version,
                    loaded.created,
                    loaded.deadlines_changed,
                )
        except CalendarError as exc:
            form.holidays.errors = [str(exc)]  # type: ignore[assignment]
        else:
            if created:
                flash(_("%(year)s 年工作日历已保存为第 %(v)s 版。", year=year, v=version), "success")
                if changed:
                    flash(_("%(n)s 件拟列入的异议期已按新日历重新计算。", n=changed), "success")
            else:
                flash(_("与现行第 %(v)s 版相同,未保存新版本。", v=version), "success")
            return redirect(url_for("admin.calendar_year", year=year))
    status = 422 if form.errors else 200
    return render_template("admin/calendar_form.html", form=form), status


@bp.route("/publications")
@roles_required("admin")
def publication_admin():
    session = get_session()
    publications = list_publications(session, limit=200)
    return render_template(
        "admin/publications.html",
        publications=publications,
        withdrawn=withdrawals(session, [p.id for p in publications]),
    )


@bp.route("/publications/<number>/withdraw", methods=["GET", "POST"])
@roles_required("admin")
def publication_withdraw(number: str):
    """Confirm, then withdraw: the page says what will happen before anything does."""
    session = get_session()
    publication = get_publication(session, number)
    if publication is None:
        abort(404)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as work:
                withdraw_publication(work, number, reason=form.reason.data or "", withdrawn_by=current_user.username)
        except PublicationError as exc:
            flash(str(exc), "error")
        else:
            flash(_("已撤回发布 %(n)s。", n=number), "success")
            return redirect(url_for("admin.publication_admin"))
    existing = withdrawals(session, [publication.id]).get(publication.id)  # type: ignore[arg-type]
    status = 422 if form.errors else 200
    return render_template(
        "admin/publication_withdraw.html", publication=publication, form=form, existing=existing
    ), status
