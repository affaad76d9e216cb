"""Forms of the staff pages."""

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from credit.models.user import ROLE_LABELS
from credit.reference import INDUSTRY_DIVISIONS, INDUSTRY_SECTIONS, REGIONS, SCALES


def industry_choices() -> list[SelectChoice]:
    choices: list[SelectChoice] = []
    for letter, name in INDUSTRY_SECTIONS.items():
        choices.append(SelectChoice(letter, f"{letter} {name}"))
        choices += [
            SelectChoice(f"{letter}{code}", f"\u3000{letter}{code} {title}")
            for code, (section, title) in INDUSTRY_DIVISIONS.items()
            if section == letter
        ]
    return choices


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(role.value, gettext(label)) for role, label in ROLE_LABELS.items()]


class FirmForm(FlaskForm):
    uscc = StringField(_l("统一社会信用代码"), validators=[DataRequired(), Length(max=18)])
    name = StringField(_l("企业名称"), validators=[DataRequired(), Length(max=200)])
    legal_representative = StringField(_l("法定代表人"), validators=[Optional(), Length(max=50)])
    address = StringField(_l("地址"), validators=[Optional(), Length(max=300)])
    region = SelectField(_l("所属镇街"), choices=[SelectChoice(r, r) for r in REGIONS])
    industry = SelectField(_l("行业(GB/T 4754-2017)"), choices=industry_choices())
    scale = SelectField(_l("规模"), choices=[SelectChoice(s, s) for s in SCALES])
    submit = SubmitField(_l("保存"))


class UserCreateForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(), Length(min=2, max=40)])
    display_name = StringField(_l("姓名"), validators=[Optional(), Length(max=80)])
    department = StringField(_l("部门"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("角色"), choices=role_choices)
    password = PasswordField(_l("初始密码"), validators=[DataRequired(), Length(min=10, max=200)])
    submit = SubmitField(_l("创建用户"))


class UserEditForm(FlaskForm):
    display_name = StringField(_l("姓名"), validators=[Optional(), Length(max=80)])
    department = StringField(_l("部门"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("角色"), choices=role_choices)
    is_active = BooleanField(_l("启用"))
    # Set by the confirmation page: a deactivation takes effect only once its effect has been shown.
    confirmed = HiddenField()
    submit = SubmitField(_l("保存"))


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("新密码"), validators=[DataRequired(), Length(min=10, max=200)])
    submit = SubmitField(_l("重设密码"))


class ResetTotpForm(FlaskForm):
    confirmed = HiddenField()  # set by the confirmation page
    submit = SubmitField(_l("重置动态口令"))


class ApiKeyForm(FlaskForm):
    department = StringField(_l("部门"), validators=[DataRequired(), Length(max=100)])
    scopes = SelectMultipleField(
        _l("权限"),
        choices=[
            SelectChoice("check", _l("check:信用核查")),
            SelectChoice("record", _l("record:报送信用事件")),
            SelectChoice("watch", _l("watch:关注名单、Webhook 与变更流")),
        ],
        validators=[DataRequired()],
    )
    label = StringField(_l("用途说明"), validators=[Optional(), Length(max=100)])
    submit = SubmitField(_l("创建密钥"))


class PilotCodeForm(FlaskForm):
    """An admin records a legal pilot code (试点代码) that fails only a check character."""

    code = StringField(_l("统一社会信用代码"), validators=[DataRequired(), Length(min=18, max=18)])
    reason = TextAreaField(_l("理由"), validators=[DataRequired(), Length(max=500)])
    document_basis = StringField(_l("依据文件"), validators=[DataRequired(), Length(max=200)])
    confirmed = HiddenField()  # set by the confirmation page
    submit = SubmitField(_l("登记例外"))


class RevokeKeyForm(FlaskForm):
    confirmed = HiddenField()  # set by the confirmation page
    submit = SubmitField(_l("吊销"))
