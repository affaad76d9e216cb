"""Log-in and password forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(), Length(max=40)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("登录"))


class PasswordForm(FlaskForm):
    current = PasswordField(_l("当前密码"), validators=[DataRequired()])
    password = PasswordField(_l("新密码"), validators=[DataRequired(), Length(min=10, max=200)])
    confirm = PasswordField(_l("确认新密码"), validators=[DataRequired(), EqualTo("password", _l("两次输入不一致"))])
    submit = SubmitField(_l("修改密码"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("退出"))


class CodeForm(FlaskForm):
    """The second step of a log-in, or the confirmation of enrolment: the authenticator's 6 digits."""

    code = StringField(
        _l("动态口令"),
        validators=[DataRequired(), Length(min=6, max=10)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField(_l("确认"))


class TotpStartForm(FlaskForm):
    submit = SubmitField(_l("开始设置动态口令"))
