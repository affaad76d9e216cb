"""Forms of the due process: decisions on black-list proposals, waivers, petitions (staff and public)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

KIND_CHOICES = [SelectChoice("objection", _l("异议")), SelectChoice("repair", _l("信用修复"))]


class DecideListingForm(FlaskForm):
    """A reviewer's decision on a proposed black entry."""

    decision = RadioField(
        _l("决定"),
        choices=[SelectChoice("approve", _l("列入黑榜")), SelectChoice("withdraw", _l("不予列入"))],
        validators=[DataRequired()],
    )
    note = TextAreaField(_l("决定意见(不予列入须说明理由)"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("作出决定"))


SERVICE_CHOICES = [
    SelectChoice("direct", _l("直接送达")),
    SelectChoice("mail", _l("邮寄送达")),
    SelectChoice("electronic", _l("电子送达")),
    SelectChoice("public_notice", _l("公告送达")),
]


class ServeForm(FlaskForm):
    """Service of a notice (送达): how, on which day, and what proves it. For several proposals at once
    the list page sends their ids as `ids`."""

    method = SelectField(_l("送达方式"), choices=SERVICE_CHOICES, validators=[DataRequired()])
    on = StringField(
        _l("送达日期(公告送达为公告发布日期)"),
        validators=[DataRequired(), Length(max=10)],
        render_kw={"type": "date"},
    )
    note = StringField(_l("送达凭证(如签收人、邮件单号、公告地址)"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("登记送达"))


class WaiveForm(FlaskForm):
    """The firm waives its right to object; the recorder says how that was received."""

    note = TextAreaField(
        _l("放弃陈述申辩的方式和材料"), validators=[DataRequired(), Length(max=1000)], render_kw={"rows": 3}
    )
    submit = SubmitField(_l("登记企业放弃陈述申辩"))


class PetitionDecisionForm(FlaskForm):
    """A reviewer grants or refuses a petition, with a reason; repair needs the two confirmations."""

    decision = RadioField(
        _l("决定"),
        choices=[SelectChoice("grant", _l("成立 / 批准")), SelectChoice("refuse", _l("驳回 / 不予批准"))],
        validators=[DataRequired()],
    )
    penalty_performed = BooleanField(_l("已核实:行政处罚已履行完毕"))
    rectified = BooleanField(_l("已核实:失信行为已整改到位"))
    reason = TextAreaField(_l("决定理由"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("作出决定"))


class StaffPetitionForm(FlaskForm):
    """A recorder files an objection or repair application on a firm's behalf."""

    kind = SelectField(_l("申请类型"), choices=KIND_CHOICES, validators=[DataRequired()])
    applicant_name = StringField(_l("申请人(企业或代理人)"), validators=[DataRequired(), Length(max=100)])
    applicant_contact = StringField(_l("联系方式"), validators=[DataRequired(), Length(max=100)])
    statement = TextAreaField(_l("事实和理由"), validators=[DataRequired(), Length(max=5000)], render_kw={"rows": 6})
    submit = SubmitField(_l("登记申请"))


class PublicPetitionForm(FlaskForm):
    """The public objection / credit-repair form. Anti-abuse without any outside service: a honeypot,
    a signed time stamp (minimum fill time) and an arithmetic question checked from a signed token."""

    uscc = StringField(_l("统一社会信用代码"), validators=[DataRequired(), Length(max=18)])
    kind = SelectField(_l("申请类型"), choices=KIND_CHOICES, validators=[DataRequired()])
    target = SelectField(
        _l("针对事项"),
        choices=[
            SelectChoice("record", _l("一条信用记录(按文书号)")),
            SelectChoice("black", _l("黑榜(拟列入或已列入)")),
            SelectChoice("red", _l("红榜")),
        ],
        validators=[DataRequired()],
    )
    document_no = StringField(_l("文书号"), validators=[Optional(), Length(max=100)])
    applicant_name = StringField(_l("申请人(企业或代理人)"), validators=[DataRequired(), Length(max=100)])
    applicant_contact = StringField(_l("联系方式(电话或电子邮箱)"), validators=[DataRequired(), Length(max=100)])
    statement = TextAreaField(_l("事实和理由"), validators=[DataRequired(), Length(max=5000)], render_kw={"rows": 8})
    answer = StringField(_l("验证问题"), validators=[DataRequired(), Length(max=6)], render_kw={"inputmode": "numeric"})
    form_token = HiddenField()
    # The honeypot: hidden from people (and from screen readers), filled only by robots.
    website = StringField(_l("网址(请勿填写)"), validators=[Optional()])
    submit = SubmitField(_l("提交"))
