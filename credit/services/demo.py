"""A realistic synthetic city for demonstrations and first runs: firms with four years of credit
history, one user per role, and the city assessed so that grades and lists are there to see."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from credit.clock import today
from credit.demo_data import iter_events, iter_firms
from credit.models import CreditEvent, EventStatus, Firm, Role, User, utcnow
from credit.models.audit import audit_row, write_audit
from credit.services.assessment import assess_all
from credit.services.bulk import insert_rows
from credit.services.calendar import load_package_calendar
from credit.services.due_process import approve_due, serve_notices, unserved_proposals
from credit.services.event_import import refresh_statistics
from credit.services.publications import last_ended_period, publish_period
from credit.services.rulesets import ensure_default_ruleset
from credit.services.signing import Signer
from credit.services.users import create_user, get_user

CHUNK = 5000  # firms per lookup and executemany
EVENT_CHUNK = 5000  # events per COPY / executemany (a chunk ends with a firm's last event)


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


SECOND_REVIEWER = "reviewer2"


def seed_demo(
    session: Session,
    *,
    firms: int = 2000,
    seed: int = 2026,
    progress: Callable[[int], None] | None = None,
    signer: Signer | None = None,
) -> DemoReport:
    """Add the demo city: `firms` synthetic firms, their credit history (effective events, recorded and
    approved by two different demo users), a user per role with a fresh random password, and an
    assessment of every firm as of today.

    Idempotent: the same seed yields the same firms; firms that exist keep their files as they are.
    Set-based at any size: firms and events stream from the generator in chunks, each chunk one lookup
    and one executemany (no list of ids grows with the city), audited as one act."""
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
    if get_user(session, SECOND_REVIEWER) is None:
        # Separation of duties: `reviewer` approved the history, so a second reviewer decides the lists.
        password = secrets.token_urlsafe(12) + "9"
        create_user(session, username=SECOND_REVIEWER, role="reviewer", password=password, display_name="演示审核员二")
        report.credentials[SECOND_REVIEWER] = password
    new_firms = _insert_firms(session, iter_firms(firms, seed=seed), report, progress)
    if not new_firms:
        return report
    recorder, reviewer = get_user(session, "recorder"), get_user(session, "reviewer")
    report.events_created = _insert_events(
        session,
        iter_events(
            ({"uscc": u, "scale": s} for u, s in new_firms.values()), count=len(new_firms), today=today(), seed=seed
        ),
        {u: firm_id for firm_id, (u, _) in new_firms.items()},
        recorder.id,  # type: ignore[union-attr]
        reviewer.id,  # type: ignore[union-attr]
    )
    write_audit(
        session,
        [
            audit_row(
                session.info["actor"],
                action="demo",
                entity="credit_event",
                after={"firms": report.firms_created, "events": report.events_created},
            )
        ],
    )
    refresh_statistics(session, "firm", "credit_event")
    _play_the_last_months(session, recorder, reviewer, signer)  # type: ignore[arg-type]
    return report


def _insert_firms(
    session: Session, rows: Iterator[dict], report: DemoReport, progress: Callable[[int], None] | None
) -> dict[int, tuple[str, str]]:
    """Insert the generated firms not yet registered, chunk by chunk; returns id -> (uscc, scale) of the
    new ones, in the generator's order (the events are generated in that order)."""
    table = Firm.__table__  # type: ignore[attr-defined]
    created: dict[int, tuple[str, str]] = {}
    now = utcnow()
    while chunk := list(islice(rows, CHUNK)):
        usccs = [row["uscc"] for row in chunk]
        known = set(session.exec(select(Firm.uscc).where(col(Firm.uscc).in_(usccs))))
        fresh = [{**row, "created_at": now, "updated_at": now} for row in chunk if row["uscc"] not in known]
        report.firms_present += len(chunk) - len(fresh)
        if fresh:
            insert_rows(session.connection(), table, fresh)
            ids = dict(
                session.exec(select(Firm.uscc, Firm.id).where(col(Firm.uscc).in_([r["uscc"] for r in fresh]))).all()
            )
            created.update((ids[row["uscc"]], (row["uscc"], row["scale"])) for row in fresh)
        if progress:
            progress(len(chunk))
    report.firms_created = len(created)
    return created


def _insert_events(
    session: Session, events: Iterator[dict], firm_ids: dict[str, int], recorder_id: int, reviewer_id: int
) -> int:
    """Insert the generated events in chunks that end at a firm's last event, so a re-check is always in
    the chunk of the failure it closes: the others go in first, then the re-checks with the ids of their
    failures (looked up by firm and document number: bounded lists)."""
    table = CreditEvent.__table__  # type: ignore[attr-defined]
    total = 0
    buffer: list[dict] = []

    def flush() -> None:
        connection = session.connection()
        insert_rows(
            connection,
            table,
            _event_rows([e for e in buffer if e["event_type"] != "rectified"], firm_ids, recorder_id, reviewer_id),
        )
        rechecks = [e for e in buffer if e["event_type"] == "rectified"]
        if rechecks:
            wanted = sorted({e["rectifies_document_no"] for e in rechecks})
            ids = dict(
                connection.execute(
                    sa_select(table.c.document_no, table.c.id).where(
                        table.c.event_type == "spot_check_fail",
                        table.c.firm_id.in_(sorted({firm_ids[e["uscc"]] for e in rechecks})),
                        table.c.document_no.in_(wanted),
                    )
                ).all()
            )
            linked = [{**e, "rectifies_id": ids[e["rectifies_document_no"]]} for e in rechecks]
            insert_rows(connection, table, _event_rows(linked, firm_ids, recorder_id, reviewer_id))
        buffer.clear()

    for event in events:
        if len(buffer) >= EVENT_CHUNK and event["uscc"] != buffer[-1]["uscc"]:
            flush()
        buffer.append(event)
        total += 1
    if buffer:
        flush()
    return total


def _play_the_last_months(session: Session, recorder: User, reviewer: User, signer: Signer | None = None) -> None:
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
    # Separation of duties: the demo reviewer approved the history, so a second reviewer decides the lists.
    approve_due(session, get_user(session, SECOND_REVIEWER) or reviewer, on=day - timedelta(days=30))
    publish_period(session, last_ended_period(day, "monthly"), published_by="system:demo", today=day, signer=signer)
    assess_all(session, as_of=day)
