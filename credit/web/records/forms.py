"""Forms of the credit file: recording, correcting, reviewing, importing."""

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from credit.catalog import EVENT_TYPES, SEVERITY_LABELS
from credit.web.helpers import localized_event_label


def type_choices() -> list[SelectChoice]:
    return [SelectChoice("", "—")] + [SelectChoice(code, localized_event_label(code)) for code in EVENT_TYPES]


def severity_choices() -> list[SelectChoice]:
    return [SelectChoice("", "—")] + [SelectChoice(code, gettext(label)) for code, label in SEVERITY_LABELS.items()]


class EventForm(FlaskForm):
    """One credit event. Per-type rules are checked by credit.services.event_input, not here."""

    uscc = StringField(_l("统一社会信用代码"), validators=[DataRequired(), Length(max=18)])
    event_type = SelectField(_l("事件类型"), choices=type_choices, validators=[DataRequired()])
    occurred_on = StringField(_l("发生日期"), validators=[DataRequired(), Length(max=10)], render_kw={"type": "date"})
    document_no = StringField(_l("文书号"), validators=[DataRequired(), Length(max=100)])
    authority = StringField(_l("作出机关"), validators=[DataRequired(), Length(max=200)])
    severity = SelectField(_l("严重程度"), choices=severity_choices, validators=[Optional()])
    amount = StringField(_l("金额(元)"), validators=[Optional(), Length(max=20)], render_kw={"inputmode": "decimal"})
    product = StringField(_l("产品"), validators=[Optional(), Length(max=200)])
    valid_until = StringField(_l("有效期至"), validators=[Optional(), Length(max=10)], render_kw={"type": "date"})
    person_name = StringField(_l("首席质量官姓名"), validators=[Optional(), Length(max=50)])
    certificate_no = StringField(_l("培训证书编号"), validators=[Optional(), Length(max=100)])
    rectifies_document_no = StringField(_l("整改对应的不合格文书号"), validators=[Optional(), Length(max=100)])
    description = TextAreaField(_l("说明"), validators=[Optional(), Length(max=4000)])
    submit = SubmitField(_l("提交审核"))


class CorrectionForm(EventForm):
    reason = TextAreaField(_l("更正理由"), validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField(_l("提交更正"))


class ApproveForm(FlaskForm):
    note = StringField(_l("审核意见(可选)"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("审核通过"))


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("驳回理由"), validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField(_l("驳回"))


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("撤销理由"), validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField(_l("撤销"))


class ImportForm(FlaskForm):
    file = FileField(
        _l("事件文件(CSV 或 XLSX)"),
        validators=[FileRequired(), FileAllowed(["csv", "xlsx"], _l("只接受 .csv 或 .xlsx 文件"))],
    )
    submit = SubmitField(_l("导入"))


class BatchApproveForm(FlaskForm):
    submit = SubmitField(_l("批量审核通过"))
