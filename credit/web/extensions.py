"""Flask extensions, created unbound and bound to the app in the factory."""

from flask_babel import Babel, gettext
from flask_login import LoginManager
from flask_wtf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录。"
login_manager.session_protection = "strong"
login_manager.localize_callback = gettext
