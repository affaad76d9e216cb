"""Test data as plain functions: `make_firm(session, **overrides)`."""

from __future__ import annotations

from itertools import count
from typing import Any

from sqlmodel import Session

from credit.demo_data import generate_firms
from credit.models import Firm, FirmCreate, User
from credit.services.firms import create_firm
from credit.services.users import create_user

_firm_rows = iter(generate_firms(5000, seed=77))
_counter = count(1)


def firm_row(**overrides: Any) -> dict[str, str]:
    """A valid, unique firm as an import row would carry it."""
    return {**next(_firm_rows), **overrides}


def make_firm(session: Session, **overrides: Any) -> Firm:
    return create_firm(session, FirmCreate.model_validate(firm_row(**overrides)))


def make_user(
    session: Session,
    *,
    username: str | None = None,
    role: str = "recorder",
    password: str = "correct-horse-42",
    **kw: Any,
) -> User:
    return create_user(session, username=username or f"user{next(_counter)}", role=role, password=password, **kw)
