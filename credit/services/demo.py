"""A realistic synthetic city for demonstrations and first runs: firms and one user per role."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from credit.demo_data import generate_firms
from credit.models import Firm, FirmCreate, Role
from credit.services.users import create_user, get_user


@dataclass
class DemoReport:
    firms_created: int = 0
    firms_present: int = 0
    credentials: dict[str, str] = field(default_factory=dict)  # new users only: name -> password


def seed_demo(
    session: Session, *, firms: int = 2000, seed: int = 2026, progress: Callable[[int], None] | None = None
) -> DemoReport:
    """Add the demo city: `firms` synthetic firms and a user per role with a fresh random password.

    Idempotent: the same seed yields the same firms, and what exists already is left as it is."""
    report = DemoReport()
    rows = generate_firms(firms, seed=seed)
    known: set[str] = set()
    for start in range(0, len(rows), 500):
        chunk = [r["uscc"] for r in rows[start : start + 500]]
        known.update(session.exec(select(Firm.uscc).where(col(Firm.uscc).in_(chunk))))
    for done, row in enumerate(rows, start=1):
        if row["uscc"] in known:
            report.firms_present += 1
        else:
            session.add(Firm.model_validate(FirmCreate.model_validate(row)))
            report.firms_created += 1
        if done % 1000 == 0:
            session.flush()
            if progress:
                progress(1000)
    session.flush()
    if progress:
        progress(len(rows) % 1000)
    for role in Role:
        if get_user(session, role.value) is None:
            password = secrets.token_urlsafe(12) + "9"
            create_user(
                session, username=role.value, role=role.value, password=password, display_name=f"演示{role.value}"
            )
            report.credentials[role.value] = password
    return report
