"""A realistic synthetic city for demonstrations and first runs: firms with four years of credit
history, one user per role, and the city assessed so that grades and lists are there to see."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import insert
from sqlmodel import Session, col, select

from credit.clock import today
from credit.demo_data import generate_events, generate_firms
from credit.models import CreditEvent, EventStatus, Firm, FirmCreate, Role, User, utcnow
from credit.models.audit import audit_row, write_audit
from credit.services.assessment import assess_all
from credit.services.calendar import load_package_calendar
from credit.services.due_process import approve_due, serve_notices, unserved_proposals
from credit.services.publications import last_ended_period, publish_period
from credit.services.rulesets import ensure_default_ruleset
from credit.services.users import create_user, get_user


@dataclass
class DemoReport:
    firms_created: int = 0
    firms_present: int = 0
    events_created: int = 0
    credentials: dict[str, str] = field(default_factory=dict)  # new users only: name -> password


def _event_rows(events: list[dict], firm_ids: dict[str, int], recorder_id: int, reviewer_id: int) -> list[dict]:
    now = utcnow()
    return [
        {
            "firm_id": firm_ids[e["uscc"]],
            "event_type": e["event_type"],
            "occurred_on": e["occurred_on"],
            "document_no": e["document_no"],
            "authority": e["authority"],
            "severity": e["severity"],
            "amount": e["amount"],
            "product": e["product"],
            "valid_until": e["valid_until"],
            "description": e["description"],
            "person_name": e["person_name"],
            "certificate_no": e["certificate_no"],
            "rectifies_id": e.get("rectifies_id"),
            "corrects_id": None,
            "correction_reason": "",
            "status": EventStatus.effective.value,
            "source": "import",
            "import_batch_id": None,
            "api_key_id": None,
            "recorded_by_id": recorder_id,
            "recorded_at": now,
            "reviewed_by_id": reviewer_id,
            "reviewed_at": now,
            "review_note": "演示数据",
            "revoked_by_id": None,
            "revoked_at": None,
            "revoke_reason": "",
        }
        for e in events
    ]


def seed_demo(
    session: Session, *, firms: int = 2000, seed: int = 2026, progress: Callable[[int], None] | None = None
) -> DemoReport:
    """Add the demo city: `firms` synthetic firms, their credit history (effective events, recorded and
    approved by two different demo users), a user per role with a fresh random password, and an
    assessment of every firm as of today.

    Idempotent: the same seed yields the same firms; firms that exist keep their files as they are."""
    report = DemoReport()
    ensure_default_ruleset(session)
    load_package_calendar(session)
    for role in Role:
        if get_user(session, role.value) is None:
            password = secrets.token_urlsafe(12) + "9"
            create_user(
                session, username=role.value, role=role.value, password=password, display_name=f"演示{role.value}"
            )
            report.credentials[role.value] = password
    rows = generate_firms(firms, seed=seed)
    known: set[str] = set()
    for start in range(0, len(rows), 500):
        chunk = [r["uscc"] for r in rows[start : start + 500]]
        known.update(session.exec(select(Firm.uscc).where(col(Firm.uscc).in_(chunk))))
    new_rows = [row for row in rows if row["uscc"] not in known]
    report.firms_present = len(rows) - len(new_rows)
    for done, row in enumerate(new_rows, start=1):
        session.add(Firm.model_validate(FirmCreate.model_validate(row)))
        if done % 1000 == 0:
            session.flush()
            if progress:
                progress(1000)
    session.flush()
    if progress:
        progress(len(new_rows) % 1000 + report.firms_present)
    report.firms_created = len(new_rows)
    if not new_rows:
        return report

    firm_ids: dict[str, int] = {}
    usccs = [row["uscc"] for row in new_rows]
    for start in range(0, len(usccs), 500):
        firm_ids.update(
            session.exec(select(Firm.uscc, Firm.id).where(col(Firm.uscc).in_(usccs[start : start + 500]))).all()
        )  # type: ignore[arg-type]
    events = generate_events(new_rows, today=today(), seed=seed)
    recorder, reviewer = get_user(session, "recorder"), get_user(session, "reviewer")
    plain = [e for e in events if e["event_type"] != "rectified"]
    for start in range(0, len(plain), 2000):
        session.execute(
            insert(CreditEvent), _event_rows(plain[start : start + 2000], firm_ids, recorder.id, reviewer.id)
        )  # type: ignore[union-attr]
    failures = dict(
        session.exec(
            select(CreditEvent.document_no, CreditEvent.id).where(
                CreditEvent.event_type == "spot_check_fail", col(CreditEvent.firm_id).in_(list(firm_ids.values()))
            )
        ).all()
    )
    rechecks = [
        {**e, "rectifies_id": failures[e["rectifies_document_no"]]} for e in events if e["event_type"] == "rectified"
    ]
    if rechecks:
        session.execute(insert(CreditEvent), _event_rows(rechecks, firm_ids, recorder.id, reviewer.id))  # type: ignore[union-attr]
    report.events_created = len(events)
    write_audit(
        session,
        [
            audit_row(
                session.info["actor"],
                action="demo",
                entity="credit_event",
                after={"firms": len(new_rows), "events": len(events)},
            )
        ],
    )
    _play_the_last_months(session, recorder, reviewer)  # type: ignore[arg-type]
    return report


def _play_the_last_months(session: Session, recorder: User, reviewer: User) -> None:
    """Let the city's recent past happen, so that every page has something to show: an assessment two
    months ago proposes black listings, their notices are served the same day, the objection period (10
    official working days) runs out and a reviewer lists them a month later, last month is published, and
    today's assessment brings grades and red listings up to date. Where that past runs into a year without
    a working-day calendar the deadlines stay open, as they would for the bureau (fail closed)."""
    day = today()
    proposed = day - timedelta(days=60)
    assess_all(session, as_of=proposed)
    serve_notices(
        session, unserved_proposals(session), by=recorder, on=proposed, method="direct", note="演示:直接送达,企业签收"
    )
    approve_due(session, reviewer, on=day - timedelta(days=30))
    publish_period(session, last_ended_period(day, "monthly"), published_by="system:demo", today=day)
    assess_all(session, as_of=day)
