"""Per-key rate limit of the API: a fixed window counted in the database (so it holds across workers).
`API_RATE_LIMIT` requests per `API_RATE_WINDOW` seconds (default 600 per 60); 0 turns it off."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from credit.models import utcnow
from credit.services.ratelimit import count_request
from credit.web.api.auth import api_error, current_key
from credit.web.db import get_session

DEFAULT_LIMIT = 600
DEFAULT_WINDOW = 60


def rate_limited(view: Callable) -> Callable:
    """Refuse with 429 (and `Retry-After`) once the calling key has used up its window. Goes under
    `key_required`, so only authenticated requests are counted."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        limit = int(current_app.config.get("API_RATE_LIMIT", DEFAULT_LIMIT))
        if limit > 0:
            seconds = int(current_app.config.get("API_RATE_WINDOW", DEFAULT_WINDOW))
            session = get_session()
            try:
                count, retry_after = count_request(session, current_key().id, now=utcnow(), seconds=seconds)  # type: ignore[arg-type]
                session.commit()
            except SQLAlchemyError:  # a counter we cannot write must not take the API down
                session.rollback()
                current_app.logger.warning(
                    "could not count a request of API key %s", current_key().prefix, exc_info=True
                )
            else:
                if count > limit:
                    response = api_error(
                        429,
                        "rate_limited",
                        f"请求过于频繁:每个密钥每 {seconds} 秒至多 {limit} 次,请 {retry_after} 秒后再试",
                    )
                    response.headers["Retry-After"] = str(retry_after)
                    return response
        return view(*args, **kwargs)

    return wrapped
