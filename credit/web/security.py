"""Role checks for views: anonymous users are sent to log in, the wrong role gets 403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user

from credit.web.extensions import login_manager

STAFF = ("admin", "recorder", "reviewer")


def roles_required(*roles: str) -> Callable:
    """Allow the view to users holding one of `roles`; with no roles, to any signed-in user."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorator
