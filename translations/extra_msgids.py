"""Msgids translated at run time through a variable, so extraction cannot see them at their point of use.

This module is never imported: `pybabel extract` (see babel.cfg) reads it so that these msgids stay in
translations/messages.pot and survive `pybabel update`. Keep it in step with the sources named below.
"""


def _(message: str) -> str:
    return message


# credit/models/user.py ROLE_LABELS, shown through the `role_label` filter (credit/web/helpers.py) and
# `role_choices()` (credit/web/admin/forms.py).
ROLE_LABELS = (
    _("管理员"),
    _("录入员"),
    _("审核员"),
    _("核查员"),
)

# credit/web/extensions.py `login_manager.login_message`: Flask-Login translates it only when
# `login_manager.localize_callback = gettext` is set.
LOGIN_MESSAGE = _("请先登录。")

# credit/models/event.py STATUS_LABELS and credit/catalog.py SEVERITY_LABELS, shown through the
# `status_label` and `severity_label` filters. (Event-type labels carry their English in the catalogue.)
STATUS_LABELS = (_("待审核"), _("已生效"), _("已驳回"), _("已撤销"))
SEVERITY_LABELS = (_("一般"), _("严重"), _("从重"))
