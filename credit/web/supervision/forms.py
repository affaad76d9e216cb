"""Forms of the supervision pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from credit.reference import REGIONS
from credit.web.admin.forms import industry_choices


class PlanForm(FlaskForm):
    seed = StringField(_l("随机种子"), validators=[DataRequired(), Length(max=100)])
    as_of = StringField(_l("基准日(YYYY-MM-DD,留空为今天)"), validators=[Optional(), Length(max=10)])
    region = SelectField(
        _l("所属镇街"),
        choices=lambda: [SelectChoice("", "—"), *(SelectChoice(r, r) for r in REGIONS)],
        validate_choice=False,
    )
    industry = SelectField(
        _l("行业"), choices=lambda: [SelectChoice("", "—"), *industry_choices()], validate_choice=False
    )
    submit = SubmitField(_l("抽取"))


class RosterImportForm(FlaskForm):
    file = FileField(
        _l("名录文件(CSV 或 XLSX:执法证号, 姓名, 所属单位, 在岗)"),
        validators=[FileRequired(), FileAllowed(["csv", "xlsx"], _l("只接受 .csv 或 .xlsx 文件"))],
    )
    submit = SubmitField(_l("导入"))


class DeactivateForm(FlaskForm):
    code = StringField(validators=[DataRequired(), Length(max=30)])
    submit = SubmitField(_l("离岗"))
