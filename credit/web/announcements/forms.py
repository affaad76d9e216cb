"""Forms of the announcement pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from credit.announcements.layouts import FIELDS


class UploadForm(FlaskForm):
    """An announcement file and what the table itself may not say."""

    file = FileField(
        _l("公告文件（CSV 或 XLSX）"),
        validators=[FileRequired(), FileAllowed(["csv", "xlsx"], _l("只接受 .csv 或 .xlsx 文件"))],
    )
    mapping = SelectField(_l("表格格式"), choices=[], validate_choice=False)
    publisher = StringField(_l("发布单位（表中没有时填写）"), validators=[Optional(), Length(max=200)])
    number = StringField(_l("公告号（表中没有时填写）"), validators=[Optional(), Length(max=100)])
    published_on = StringField(
        _l("公告日期（表中没有时填写）"), validators=[Optional(), Length(max=10)], render_kw={"type": "date"}
    )
    submit = SubmitField(_l("预览"))


class ConfirmImportForm(FlaskForm):
    """The previewed file, carried back unchanged to be imported."""

    payload = HiddenField(validators=[DataRequired()])
    filename = HiddenField()
    mapping = HiddenField()
    publisher = HiddenField()
    number = HiddenField()
    published_on = HiddenField()
    submit = SubmitField(_l("确认导入"))


class PickForm(FlaskForm):
    name_key = HiddenField(validators=[DataRequired()])
    firm = StringField(_l("企业（候选或统一社会信用代码）"), validators=[DataRequired(), Length(max=18)])
    submit = SubmitField(_l("确认为该企业"))


class OutsideForm(FlaskForm):
    name_key = HiddenField(validators=[DataRequired()])
    note = StringField(_l("转办说明（如主管的市场监管部门）"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("非本辖区，转办"))


class MappingForm(FlaskForm):
    """A column mapping: one text field per announcement field (the header title in the file)."""

    name = StringField(_l("名称"), validators=[DataRequired(), Length(max=100)])
    submit = SubmitField(_l("保存列对应关系"))


for _field in FIELDS:
    setattr(MappingForm, f"col_{_field}", StringField(validators=[Optional(), Length(max=200)]))
