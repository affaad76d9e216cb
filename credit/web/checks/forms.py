"""The check form: one USCC or a pasted list, a purpose, an optional as-of date."""

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from credit.rules.ruleset import PURPOSE_LABELS

MAX_LINES = 200


def purpose_choices() -> list[SelectChoice]:
    return [SelectChoice(code, gettext(label)) for code, label in PURPOSE_LABELS.items()]


class CheckForm(FlaskForm):
    usccs = TextAreaField(
        _l("统一社会信用代码(每行一个,至多 200 个)"),
        validators=[DataRequired(), Length(max=MAX_LINES * 24)],
        render_kw={"rows": 6, "spellcheck": "false", "autocapitalize": "characters"},
    )
    purpose = SelectField(_l("核查用途"), choices=purpose_choices, validators=[DataRequired()])
    as_of = StringField(_l("核查日(默认今天)"), validators=[Optional(), Length(max=10)], render_kw={"type": "date"})
    submit = SubmitField(_l("核查"))


class ReceiptVerifyForm(FlaskForm):
    """Confirm a receipt: its number and the verification code printed on it."""

    receipt = StringField(
        _l("回执编号"), validators=[DataRequired(), Length(max=40)], render_kw={"autocapitalize": "characters"}
    )
    code = StringField(
        _l("验证码（16 位，如 7K3Q-M9A2-XC4D-8P1T）"),
        validators=[DataRequired(), Length(max=40)],
        render_kw={"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"},
    )
    submit = SubmitField(_l("验证"))
