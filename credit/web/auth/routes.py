"""Log in, log out, change one's own password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash

from credit.services.audit import record_action
from credit.services.users import UserError, authenticate, end_sessions, set_password
from credit.web.auth.forms import LoginForm, LogoutForm, PasswordForm
from credit.web.db import unit_of_work
from credit.web.security import roles_required, safe_next, start_session

bp = Blueprint("auth", __name__)


def home_for(user) -> str:
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        with unit_of_work() as session:
            result = authenticate(
                session,
                form.username.data or "",
                form.password.data or "",
                backoff_seconds=current_app.config["LOGIN_BACKOFF_SECONDS"],
            )
        if result.user is not None:
            login_user(result.user)
            start_session()
            flash(_("欢迎,%(name)s。", name=result.user.display_name), "success")
            return redirect(safe_next(request.args.get("next")) or home_for(result.user))
        if result.locked:
            flash(_("登录失败次数过多，来自本机地址的登录已暂时锁定，请 15 分钟后再试。"), "error")
        elif result.retry_after:
            flash(_("登录失败次数较多，请 %(seconds)s 秒后再试。", seconds=result.retry_after), "error")
        else:
            flash(_("用户名或密码错误。"), "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    form = LogoutForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        with unit_of_work() as session:
            record_action(session, action="logout", entity="login", entity_id=current_user.username)
            end_sessions(session, session.merge(current_user._get_current_object()))
        logout_user()
        flash(_("您已退出。"), "success")
    return redirect(url_for("public.index"))


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required()
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        if not check_password_hash(current_user.password_hash, form.current.data or ""):
            form.current.errors.append(_("当前密码不正确"))
        else:
            try:
                with unit_of_work() as session:
                    user = session.merge(current_user._get_current_object())
                    set_password(session, user, form.password.data or "")
            except UserError as exc:
                form.password.errors.append(str(exc))
            else:
                login_user(user)  # the epoch changed: renew this session, others end
                flash(_("密码已修改,其他设备上的登录已失效。"), "success")
                return redirect(home_for(user))
    return render_template("auth/change_password.html", form=form)
