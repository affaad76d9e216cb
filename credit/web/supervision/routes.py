"""Supervision pages: make, list, view and export 双随机 plans; the inspector roster (admin); the honour
rolls by streak. Every route checks the role; every form carries its CSRF token."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from credit import clock
from credit.models import SupervisionPlan
from credit.services.honour_rolls import roll_counts, roll_page
from credit.services.plans import (
    PlanError,
    check_request,
    import_roster,
    list_inspectors,
    list_plans,
    make_plan,
    plan_firm_page,
    plan_xlsx,
    set_inspector_active,
)
from credit.services.rulesets import active_ruleset
from credit.web.db import get_session, unit_of_work
from credit.web.security import STAFF, roles_required
from credit.web.supervision.forms import DeactivateForm, PlanForm, RosterImportForm

bp = Blueprint("supervision", __name__)

PLAN_MAKERS = ("admin", "reviewer")


def _page() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


@bp.route("/plans", methods=["GET", "POST"])
@roles_required(*STAFF)
def plan_list():
    form = PlanForm()
    status = 200
    if request.method == "POST":
        if not current_user.has_role(*PLAN_MAKERS):
            abort(403)
        if form.validate_on_submit():
            try:
                day = clock.parse_past_date(form.as_of.data, field=_("基准日")) if form.as_of.data else None
                plan_request = check_request(form.seed.data, day, form.region.data, form.industry.data)
                with unit_of_work() as session:
                    plan, created = make_plan(session, plan_request, created_by=current_user.username)
                    plan_id = plan.id
            except (PlanError, ValueError) as exc:
                form.seed.errors = [*form.seed.errors, str(exc)]
                status = 422
            else:
                flash(_("已抽取新计划。") if created else _("同一种子、同一数据:沿用已存计划。"), "success")
                return redirect(url_for("supervision.plan_detail", plan_id=plan_id))
        else:
            status = 422
    plans = list_plans(get_session(), page=_page())
    return render_template(
        "supervision/plan_list.html", form=form, plans=plans, page=_page(), can_make=current_user.has_role(*PLAN_MAKERS)
    ), status


def _plan_or_404(plan_id: int) -> SupervisionPlan:
    plan = get_session().get(SupervisionPlan, plan_id)
    if plan is None:
        abort(404)
    return plan


@bp.route("/plans/<int:plan_id>")
@roles_required(*STAFF)
def plan_detail(plan_id: int):
    plan = _plan_or_404(plan_id)
    firms = plan_firm_page(get_session(), plan_id, page=_page(), per_page=100)
    return render_template("supervision/plan_detail.html", plan=plan, firms=firms, page=_page())


@bp.route("/plans/<int:plan_id>.xlsx")
@roles_required(*STAFF)
def plan_export(plan_id: int):
    plan = _plan_or_404(plan_id)
    response = make_response(plan_xlsx(get_session(), plan))
    response.headers["Content-Type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.headers["Content-Disposition"] = f'attachment; filename="plan-{plan.id}.xlsx"'
    return response


@bp.route("/inspectors", methods=["GET", "POST"])
@roles_required("admin")
def inspectors():
    form = RosterImportForm()
    errors = []
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            upload = form.file.data
            with unit_of_work() as session:
                report = import_roster(session, upload.stream, filename=upload.filename or "")
                if not report.ok:
                    session.rollback()
            if report.ok:
                flash(_("已导入:新增 %(a)s 名,更新 %(u)s 名。", a=report.added, u=report.updated), "success")
                return redirect(url_for("supervision.inspectors"))
            errors = report.errors
        status = 422
    rows, on_duty = list_inspectors(get_session(), page=_page())
    return render_template(
        "supervision/inspectors.html",
        form=form,
        errors=errors,
        inspectors=rows,
        on_duty=on_duty,
        page=_page(),
        deactivate=DeactivateForm(),
    ), status


@bp.route("/inspectors/deactivate", methods=["POST"])
@roles_required("admin")
def inspector_deactivate():
    form = DeactivateForm()
    if not form.validate_on_submit():
        flash(_("请选择要离岗的检查人员"), "error")
        return redirect(url_for("supervision.inspectors"))
    try:
        with unit_of_work() as session:
            set_inspector_active(session, form.code.data, False)
    except PlanError as exc:
        flash(str(exc), "error")
    return redirect(url_for("supervision.inspectors"))


@bp.route("/honour-rolls")
@roles_required(*STAFF)
def honour_rolls():
    session = get_session()
    rules = active_ruleset(session)
    day = clock.today()
    counts = roll_counts(session, rules, day)
    code = request.args.get("roll", "")
    roll = next(
        (r for r in rules.honour.rolls if r.code == code), rules.honour.rolls[0] if rules.honour.rolls else None
    )
    entries = roll_page(session, rules, day, roll, page=_page()) if roll else []
    return render_template(
        "supervision/honour_rolls.html",
        rolls=rules.honour.rolls,
        counts=counts,
        roll=roll,
        entries=entries,
        page=_page(),
        as_of=day,
    )
