"""Staff pages: the firm register, users and the audit log."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import ValidationError
from sqlmodel import col, func, select

from credit.catalog import EVENT_TYPES
from credit.models import ApiKey, AuditEntry, Department, Firm, FirmCreate, Listing, User
from credit.models.firm import FIRM_FIELDS
from credit.reference import REGIONS
from credit.services.apikeys import ApiKeyError, create_api_key, revoke_api_key
from credit.services.assessment import assess_firm
from credit.services.audit import audit_entries
from credit.services.events import FileQuery, credit_file, users_by_id
from credit.services.firms import FirmExists, FirmQuery, create_firm, firm_errors, get_firm, search_firms, update_firm
from credit.services.pilot_codes import (
    PilotCodeError,
    checksum_failure,
    list_pilot_codes,
    pilot_code,
    pilot_code_set,
    record_pilot_code,
    rule_text,
)
from credit.services.totp import TotpError, reset_second_factor
from credit.services.users import UserError, create_user, set_password, update_user
from credit.uscc import is_valid_uscc
from credit.web.admin.forms import (
    ApiKeyForm,
    FirmForm,
    PilotCodeForm,
    ResetPasswordForm,
    ResetTotpForm,
    RevokeKeyForm,
    UserCreateForm,
    UserEditForm,
)
from credit.web.db import get_session, unit_of_work
from credit.web.helpers import cursor_arg, date_arg
from credit.web.security import STAFF, roles_required

bp = Blueprint("admin", __name__)

FIRM_EDITORS = ("admin", "recorder")


def _int_arg(name: str, default: int = 1) -> int:
    try:
        return max(1, int(request.args.get(name, default)))
    except ValueError:
        return default


@bp.route("/")
@roles_required()
def index():
    session = get_session()
    counts = {
        "firms": session.exec(select(func.count()).select_from(Firm)).one(),
        "users": session.exec(select(func.count()).select_from(User)).one(),
    }
    warnings = []
    if current_user.has_role("admin", "reviewer"):
        from credit.clock import today
        from credit.services.calendar import calendar_warnings

        warnings = calendar_warnings(session, today=today(), warn_days=current_app.config["CALENDAR_WARN_DAYS"])
    queues, admin_warnings = _work_queues(session)
    return render_template(
        "admin/index.html", counts=counts, calendar_warnings=warnings, queues=queues, admin_warnings=admin_warnings
    )


def _work_queues(session):
    """The signed-in user's work queues and, for an admin, the warnings (credit.services.work_queues)."""
    from credit.clock import now, today
    from credit.services.rulesets import active_ruleset
    from credit.services.work_queues import admin_warnings, recorder_queues, reviewer_queues

    limit = current_app.config.get("WORK_QUEUE_ITEMS", 10)
    queues = []
    if current_user.has_role("recorder"):
        queues += recorder_queues(session, current_user, limit=limit)
    if current_user.has_role("reviewer"):
        queues += reviewer_queues(session, current_user, today=today(), limit=limit)
    warnings = []
    if current_user.has_role("admin"):
        warnings = admin_warnings(
            session,
            now=now(),
            stale_days=current_app.config.get("API_KEY_STALE_DAYS", 90),
            inspectors_per_firm=active_ruleset(session).plan.inspectors_per_firm,
        )
    return queues, warnings


@bp.route("/firms")
@roles_required(*STAFF)
def firm_list():
    query = FirmQuery(
        text=request.args.get("q", "")[:200],
        region=request.args.get("region", ""),
        industry=request.args.get("industry", "")[:3],
        page=_int_arg("page"),
        per_page=current_app.config["FIRMS_PER_PAGE"],
        after=cursor_arg("after"),
        before=cursor_arg("before"),
        count_cap=current_app.config["SEARCH_COUNT_CAP"],
        scan_window=current_app.config["SEARCH_SCAN_WINDOW"],
    )
    result = search_firms(get_session(), query)
    return render_template("admin/firm_list.html", result=result, query=query, regions=REGIONS)


def _firm_or_404(uscc: str) -> Firm:
    firm = get_firm(get_session(), uscc)
    if firm is None:
        abort(404)
    return firm


@bp.route("/firms/<uscc>")
@roles_required(*STAFF)
def firm_detail(uscc: str):
    firm = _firm_or_404(uscc)
    session = get_session()
    query = FileQuery(
        event_type=request.args.get("type", "") if request.args.get("type", "") in EVENT_TYPES else "",
        since=date_arg("since", _("起始日期")),
        until=date_arg("until", _("截止日期")),
    )
    events = credit_file(session, firm, query)
    people = users_by_id(session, (uid for e in events for uid in (e.recorded_by_id, e.reviewed_by_id)))
    history = audit_entries(session, entity="firm", entity_id=str(firm.id), limit=50)
    result = assess_firm(session, firm)
    listings = session.exec(select(Listing).where(Listing.firm_id == firm.id).order_by(col(Listing.id).desc())).all()
    documents = {e.id: e.document_no for e in events}
    pilot = None if is_valid_uscc(firm.uscc) else pilot_code(session, firm.uscc)
    return render_template(
        "admin/firm_detail.html",
        firm=firm,
        pilot=pilot,
        history=history,
        events=events,
        people=people,
        query=query,
        result=result,
        listings=listings,
        documents=documents,
    )


def _validated_firm(form: FirmForm) -> FirmCreate | None:
    """The form's data through the domain validation; errors are put on the form's fields."""
    try:
        data = {name: getattr(form, name).data for name in FIRM_FIELDS}
        return FirmCreate.model_validate(data, context={"pilot_codes": pilot_code_set(get_session())})
    except ValidationError as exc:
        for error in firm_errors(exc):
            field = getattr(form, error.column, None)
            (field.errors if field is not None else form.form_errors).append(error.reason)
        return None


@bp.route("/firms/new", methods=["GET", "POST"])
@roles_required(*FIRM_EDITORS)
def firm_new():
    form = FirmForm()
    if form.validate_on_submit() and (data := _validated_firm(form)):
        try:
            with unit_of_work() as session:
                firm = create_firm(session, data)
        except FirmExists as exc:
            form.uscc.errors.append(str(exc))
        else:
            flash(_("已登记 %(name)s。", name=firm.name), "success")
            return redirect(url_for("admin.firm_detail", uscc=firm.uscc))
    return render_template("admin/firm_form.html", form=form, firm=None), 422 if form.errors else 200


@bp.route("/firms/<uscc>/edit", methods=["GET", "POST"])
@roles_required(*FIRM_EDITORS)
def firm_edit(uscc: str):
    firm = _firm_or_404(uscc)
    form = FirmForm(obj=firm)
    form.uscc.data = firm.uscc  # the key never changes
    if form.validate_on_submit() and (data := _validated_firm(form)):
        with unit_of_work() as session:
            changed = update_firm(session, firm, data)
        flash(_("已保存。") if changed else _("没有修改。"), "success")
        return redirect(url_for("admin.firm_detail", uscc=firm.uscc))
    return render_template("admin/firm_form.html", form=form, firm=firm), 422 if form.errors else 200


@bp.route("/users")
@roles_required("admin")
def user_list():
    users = get_session().exec(select(User).order_by(User.username)).all()
    return render_template("admin/user_list.html", users=users)


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def user_new():
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                user = create_user(
                    session,
                    username=form.username.data or "",
                    role=form.role.data or "",
                    password=form.password.data or "",
                    display_name=form.display_name.data or "",
                    department=form.department.data or "",
                )
        except UserError as exc:
            form.form_errors.append(str(exc))
        else:
            flash(_("已创建用户 %(name)s。", name=user.username), "success")
            return redirect(url_for("admin.user_list"))
    return render_template(
        "admin/user_form.html", form=form, user=None
    ), 422 if form.errors or form.form_errors else 200


def _user_or_404(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


def confirm_page(*, title: str, effects: list[str], action: str, form, confirm_label: str, back: str):
    """The second step of a destructive or wide action: what it will do, and a button that does it. The
    form's submitted fields are carried over; its `confirmed` field is set."""
    prefix = form._prefix
    fields = [
        (f.name, f.data if not isinstance(f.data, bool) else ("y" if f.data else ""))
        for f in form
        if f.name not in (f"{prefix}csrf_token", f"{prefix}confirmed", f"{prefix}submit")
        and f.data not in (None, False)
    ]
    page = render_template(
        "admin/confirm.html",
        title=title,
        effects=effects,
        action=action,
        fields=fields,
        confirm_name=f"{prefix}confirmed",
        confirm_label=confirm_label,
        back=back,
    )
    return page, 200


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@roles_required("admin")
def user_edit(user_id: int):
    user = _user_or_404(user_id)
    form = UserEditForm(obj=user)
    reset = ResetPasswordForm(prefix="reset")
    if form.validate_on_submit():
        deactivating = user.is_active and not form.is_active.data
        if user.id == current_user.id and (form.role.data != "admin" or not form.is_active.data):
            form.form_errors.append(_("不能取消自己的管理员角色或停用自己的账号。"))
        elif deactivating and form.confirmed.data != "yes":
            return confirm_page(
                title=_("停用账号 %(name)s", name=user.username),
                effects=[
                    _("%(name)s 的所有登录会话立即结束，此后不能登录。", name=user.username),
                    _("其已录入或审核的记录保持不变，审计日志仍以其名义显示。"),
                ],
                action=url_for("admin.user_edit", user_id=user.id),
                form=form,
                confirm_label=_("确认停用"),
                back=url_for("admin.user_edit", user_id=user.id),
            )
        else:
            with unit_of_work() as session:
                update_user(
                    session,
                    user,
                    role=form.role.data or user.role,
                    display_name=form.display_name.data or "",
                    department=form.department.data or "",
                    is_active=bool(form.is_active.data),
                )
            flash(_("已保存。"), "success")
            return redirect(url_for("admin.user_list"))
    status = 422 if form.errors or form.form_errors else 200
    totp_form = ResetTotpForm(prefix="totp")
    return render_template("admin/user_form.html", form=form, reset=reset, totp_form=totp_form, user=user), status


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required("admin")
def user_password(user_id: int):
    user = _user_or_404(user_id)
    reset = ResetPasswordForm(prefix="reset")
    if reset.validate_on_submit():
        try:
            with unit_of_work() as session:
                set_password(session, user, reset.password.data or "")
        except UserError as exc:
            flash(str(exc), "error")
        else:
            flash(_("已重设 %(name)s 的密码。", name=user.username), "success")
            return redirect(url_for("admin.user_list"))
    else:
        for errors in reset.errors.values():
            for error in errors:
                flash(str(error), "error")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/totp-reset", methods=["POST"])
@roles_required("admin")
def user_totp_reset(user_id: int):
    """Clear a user's second factor (a lost phone), after a confirmation that says what it does."""
    user = _user_or_404(user_id)
    form = ResetTotpForm(prefix="totp")
    if not form.validate_on_submit() or not (user.totp_enabled or user.totp_secret):
        return redirect(url_for("admin.user_edit", user_id=user.id))
    if form.confirmed.data != "yes":
        return confirm_page(
            title=_("重置 %(name)s 的动态口令", name=user.username),
            effects=[
                _("%(name)s 此后仅凭密码即可登录，直到重新设置动态口令。", name=user.username),
                _("请先核实本人身份（如手机遗失的书面说明）；重置记入审计日志。"),
            ],
            action=url_for("admin.user_totp_reset", user_id=user.id),
            form=form,
            confirm_label=_("确认重置"),
            back=url_for("admin.user_edit", user_id=user.id),
        )
    try:
        with unit_of_work() as session:
            reset_second_factor(session, session.merge(user), by=session.get(User, current_user.id))
    except TotpError as exc:
        flash(str(exc), "error")
    else:
        flash(_("已重置 %(name)s 的动态口令。", name=user.username), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/audit")
@roles_required("admin")
def audit_log():
    session = get_session()
    page = _int_arg("page")
    per_page = 100
    query = select(AuditEntry)
    count = select(func.count()).select_from(AuditEntry)
    for name in ("entity", "actor", "action"):
        if value := request.args.get(name, "").strip():
            query = query.where(getattr(AuditEntry, name) == value)
            count = count.where(getattr(AuditEntry, name) == value)
    total = session.exec(count).one()
    entries = session.exec(
        query.order_by(col(AuditEntry.id).desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    pages = max(1, -(-total // per_page))
    return render_template("admin/audit_log.html", entries=entries, total=total, page=page, pages=pages)


@bp.route("/webhooks")
@roles_required("admin")
def webhooks():
    """Every department's webhook subscriptions with their deliveries by status, and what each watches
    (issue 15; docs/webhooks.md). Read-only: departments manage their own through the API."""
    from credit.services.webhooks import subscription_overview

    session = get_session()
    page = _int_arg("page")
    per_page = 50
    rows, total = subscription_overview(session, page=page, per_page=per_page)
    pages = max(1, -(-total // per_page))
    return render_template("admin/webhooks.html", rows=rows, total=total, page=page, pages=pages)


@bp.route("/api-keys", methods=["GET", "POST"])
@roles_required("admin")
def api_keys():
    """Departments' API keys: create (the key is shown on this answer only), list, revoke."""
    form = ApiKeyForm()
    issued = None
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                issued = create_api_key(
                    session,
                    department=form.department.data or "",
                    scopes=",".join(form.scopes.data or []),
                    label=form.label.data or "",
                )
        except ApiKeyError as exc:
            form.department.errors.append(str(exc))
    session = get_session()
    rows = session.exec(
        select(ApiKey, Department)
        .join(Department, Department.id == ApiKey.department_id)
        .order_by(col(ApiKey.id).desc())  # type: ignore[arg-type]
    ).all()
    response = make_response(
        render_template(
            "admin/api_keys.html", form=form, rows=rows, issued=issued, revoke_form=RevokeKeyForm(prefix="revoke")
        ),
        422 if form.errors else 200,
    )
    response.headers["Cache-Control"] = "no-store"  # the page may carry a key shown once
    return response


@bp.route("/api-keys/<int:key_id>/revoke", methods=["POST"])
@roles_required("admin")
def api_key_revoke(key_id: int):
    key = get_session().get(ApiKey, key_id)
    if key is None:
        abort(404)
    form = RevokeKeyForm(prefix="revoke")
    if form.validate_on_submit() and form.confirmed.data != "yes" and key.revoked_at is None:
        department = get_session().get(Department, key.department_id)
        last = key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else _("从未使用")
        return confirm_page(
            title=_("吊销密钥 %(prefix)s", prefix=key.prefix),
            effects=[
                _(
                    "%(dept)s 以此密钥发出的所有请求将立即被拒绝（401），吊销不能撤回。",
                    dept=department.name if department else "",
                ),
                _("最近一次使用：%(when)s。", when=last),
            ],
            action=url_for("admin.api_key_revoke", key_id=key.id),
            form=form,
            confirm_label=_("确认吊销"),
            back=url_for("admin.api_keys"),
        )
    if form.validate_on_submit():
        with unit_of_work() as session:
            revoke_api_key(session, session.merge(key))
        flash(_("已吊销密钥 %(prefix)s。", prefix=key.prefix), "success")
    return redirect(url_for("admin.api_keys"))


@bp.route("/pilot-codes", methods=["GET", "POST"])
@roles_required("admin")
def pilot_codes():
    """Legal pilot codes (试点代码): a USCC that fails only a check character is accepted as an exception
    an admin records with its reason and document basis, after a confirmation that shows the rule it fails."""
    form = PilotCodeForm()
    status = 200
    if form.validate_on_submit():
        code = (form.code.data or "").strip().upper()
        try:
            failure = checksum_failure(code)
        except PilotCodeError as exc:
            form.code.errors.append(str(exc))  # type: ignore[attr-defined]
        else:
            if form.confirmed.data != "yes":
                return confirm_page(
                    title=_("登记试点代码例外 %(code)s", code=code),
                    effects=[
                        _(
                            "该代码不符合：%(rule)s（%(message)s）。",
                            rule=rule_text(failure.rule),
                            message=failure.message,
                        ),
                        _("登记后，以该代码登记、导入企业和录入事件、核查均予接受，企业页面标注“试点代码”。"),
                        _("例外记入审计日志，不能修改或删除。"),
                    ],
                    action=url_for("admin.pilot_codes"),
                    form=form,
                    confirm_label=_("确认登记"),
                    back=url_for("admin.pilot_codes"),
                )
            try:
                with unit_of_work() as session:
                    record_pilot_code(
                        session,
                        code=code,
                        reason=form.reason.data or "",
                        document_basis=form.document_basis.data or "",
                        admin=session.get(User, current_user.id),  # type: ignore[arg-type]
                    )
            except PilotCodeError as exc:
                form.code.errors.append(str(exc))  # type: ignore[attr-defined]
            else:
                flash(_("已登记试点代码例外 %(code)s。", code=code), "success")
                return redirect(url_for("admin.pilot_codes"))
    if form.errors:
        status = 422
    session = get_session()
    rows = list_pilot_codes(session)
    people = users_by_id(session, [row.recorded_by_id for row in rows])
    return render_template("admin/pilot_codes.html", form=form, rows=rows, people=people, rule_text=rule_text), status


import credit.web.admin.calendar  # noqa: E402, F401  - the working-day calendar and withdrawals, on this blueprint
