"""Log in, log out, change one's own password."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask import session as cookie
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash

from credit import clock
from credit.models import User
from credit.services import totp
from credit.services.audit import record_action
from credit.services.users import LoginResult, UserError, authenticate, end_sessions, set_password
from credit.web.auth.forms import CodeForm, LoginForm, LogoutForm, PasswordForm, TotpStartForm
from credit.web.db import get_session, unit_of_work
from credit.web.security import roles_required, safe_next, start_session

bp = Blueprint("auth", __name__)

# A password checked, the code still to come: who, at which session epoch, since when, and where to go.
PENDING = "totp_pending"
PENDING_SECONDS = 300


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
        if result.second_factor and result.user is not None:
            cookie[PENDING] = {
                "uid": result.user.id,
                "epoch": result.user.session_epoch,
                "at": int(clock.now().timestamp()),
                "next": safe_next(request.args.get("next")) or "",
            }
            return redirect(url_for("auth.login_code"))
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


def _pending() -> dict | None:
    """The log-in waiting for its code, if it is this session's and recent."""
    pending = cookie.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
        return None
    if not 0 <= int(clock.now().timestamp()) - pending["at"] <= PENDING_SECONDS:
        return None
    return pending


def _key() -> str:
    return current_app.config["SECRET_KEY"]


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """The second step of a log-in with TOTP: the code after the password."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    pending = _pending()
    if pending is None:
        cookie.pop(PENDING, None)
        flash(_("请重新输入用户名和密码。"), "error")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                user = session.get(User, pending["uid"])
                if user is None or user.session_epoch != pending.get("epoch"):
                    result = LoginResult(None, locked=True)
                else:
                    result = totp.complete_login(
                        session,
                        user,
                        form.code.data or "",
                        key_material=_key(),
                        now=clock.now(),
                        backoff_seconds=current_app.config["LOGIN_BACKOFF_SECONDS"],
                    )
        except totp.TotpError as exc:
            cookie.pop(PENDING, None)
            flash(str(exc), "error")
            return redirect(url_for("auth.login"))
        if result.user is not None:
            cookie.pop(PENDING, None)
            login_user(result.user)
            start_session()
            flash(_("欢迎,%(name)s。", name=result.user.display_name), "success")
            return redirect(pending.get("next") or home_for(result.user))
        if result.locked:
            cookie.pop(PENDING, None)
            flash(_("登录失败次数过多，来自本机地址的登录已暂时锁定，请 15 分钟后再试。"), "error")
            return redirect(url_for("auth.login"))
        if result.retry_after:
            flash(_("登录失败次数较多，请 %(seconds)s 秒后再试。", seconds=result.retry_after), "error")
        else:
            flash(_("动态口令不正确或已使用过，请输入手机上当前显示的 6 位数字。"), "error")
        return render_template("auth/login_code.html", form=form), 401
    return render_template("auth/login_code.html", form=form)


def qr_data_uri(text: str) -> str:
    """The QR code of `text` as an SVG data URI (an <img>: no inline markup or style under the CSP)."""
    buffer = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2).save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@bp.route("/account/totp", methods=["GET", "POST"])
@roles_required(*totp.ROLES)
def totp_setup():
    """Enrol in the second factor: a secret (URI, base32 and QR code), confirmed with a code before it is on."""
    start = TotpStartForm(prefix="start")
    confirm = CodeForm(prefix="confirm")
    me = get_session().get(User, current_user.id)
    if "start-submit" in request.form and start.validate_on_submit():
        try:
            with unit_of_work() as session:
                totp.start_enrolment(session, session.merge(me), key_material=_key())
        except totp.TotpError as exc:
            flash(str(exc), "error")
        return redirect(url_for("auth.totp_setup"))
    status = 200
    if "confirm-code" in request.form and confirm.validate_on_submit():
        try:
            with unit_of_work() as session:
                totp.confirm_enrolment(
                    session, session.merge(me), confirm.code.data or "", key_material=_key(), now=clock.now()
                )
        except totp.TotpError as exc:
            confirm.code.errors.append(str(exc))
            status = 422
        else:
            flash(_("动态口令已启用：此后每次登录都须在密码之后输入动态口令。"), "success")
            return redirect(url_for("auth.totp_setup"))
    me = get_session().get(User, current_user.id)
    secret = None
    try:
        secret = totp.pending_secret(me, key_material=_key())  # type: ignore[arg-type]
    except totp.TotpError as exc:
        flash(str(exc), "error")
    uri = totp.provisioning_uri(secret, me.username) if secret else ""  # type: ignore[union-attr]
    return render_template(
        "auth/totp.html",
        enabled=me.totp_enabled,  # type: ignore[union-attr]
        secret=totp.base32(secret) if secret else "",
        uri=uri,
        qr=qr_data_uri(uri) if uri else "",
        start=start,
        confirm=confirm,
    ), status


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
