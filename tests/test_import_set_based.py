"""The import at database speed (issue 10): the file streams through in chunks, and an approved batch is
re-assessed set-based. Held equal here to the per-firm path (approve each event, then
`after_events_change`): the same stored assessments, the same listings field by field, the same removals
from the red list — and chunk boundaries change nothing a report says."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from credit.clock import today
from credit.models import Actor, AuditEntry, CreditEvent, EventStatus, FirmAssessment, Listing, User
from credit.services import event_import
from credit.services.assessment import after_events_change, assess_all
from credit.services.event_import import import_events
from credit.services.event_input import EVENT_FIELDS
from credit.services.rulesets import ensure_default_ruleset
from tests.factories import make_firm

AUTHORITY = "东莞市市场监督管理局"


def staff(session: Session, role: str, name: str) -> User:
    user = User(username=name, role=role, password_hash="!")
    session.add(user)
    session.flush()
    return user


def csv_bytes(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EVENT_FIELDS)
    for row in rows:
        writer.writerow([row.get(name, "") for name in EVENT_FIELDS])
    return buffer.getvalue().encode()


def add_effective(session: Session, firm_id: int, event_type: str, on: date, doc: str, **kw) -> None:
    session.add(
        CreditEvent(
            firm_id=firm_id,
            event_type=event_type,
            occurred_on=on,
            document_no=doc,
            authority=AUTHORITY,
            status=EventStatus.effective,
            **kw,
        )
    )


def ago(days: int) -> str:
    return (today() - timedelta(days=days)).isoformat()


@pytest.fixture
def city(session):
    """Six firms with histories the batch will change, assessed a year ago and a month ago (so red
    listings exist to be removed and renewed), and a recorder and a reviewer."""
    ensure_default_ruleset(session)
    firms = [make_firm(session) for _ in range(6)]
    session.flush()
    red, renew, black, new_red, plain, rect = firms
    for firm in (red, renew):
        add_effective(session, firm.id, "award_municipal", today() - timedelta(days=400), f"奖-{firm.id}")
        for n in range(3):
            add_effective(session, firm.id, "spot_check_pass", today() - timedelta(days=300 + n), f"合-{firm.id}-{n}")
    add_effective(session, new_red.id, "award_provincial", today() - timedelta(days=200), "奖-新")
    add_effective(session, rect.id, "spot_check_fail", today() - timedelta(days=90), "不合格-1", severity="general")
    session.flush()
    assess_all(session, as_of=today() - timedelta(days=200))
    session.info["actor"] = Actor(label="tester", source="test")
    rec, rev = staff(session, "recorder", "rec-sb"), staff(session, "reviewer", "rev-sb")
    rows = [
        {"uscc": red.uscc, "event_type": "complaint_substantiated", "occurred_on": ago(5), "document_no": "诉-1"},
        {"uscc": red.uscc, "event_type": "interview", "occurred_on": ago(4), "document_no": "谈-1"},
        {"uscc": renew.uscc, "event_type": "spot_check_pass", "occurred_on": ago(3), "document_no": "合-续"},
        {"uscc": black.uscc, "event_type": "penalty", "occurred_on": ago(20), "document_no": "罚-1",
         "severity": "heavy", "amount": "300000"},
        {"uscc": new_red.uscc, "event_type": "spot_check_pass", "occurred_on": ago(10), "document_no": "合-新"},
        {"uscc": plain.uscc, "event_type": "credit_report", "occurred_on": ago(2), "document_no": "报-1"},
        {"uscc": rect.uscc, "event_type": "spot_check_fail", "occurred_on": ago(30), "document_no": "不合格-2",
         "severity": "serious"},
        {"uscc": rect.uscc, "event_type": "rectified", "occurred_on": ago(10), "document_no": "复-1"},
        {"uscc": rect.uscc, "event_type": "rectified", "occurred_on": ago(8), "document_no": "复-2"},
    ]  # fmt: skip
    return firms, rec, rev, csv_bytes([{**row, "authority": AUTHORITY} for row in rows])


def state(session: Session) -> tuple[list, list, list]:
    """Listings, assessments and links, with event ids written as document numbers (ids differ between
    two runs on PostgreSQL, whose sequences a rollback does not rewind)."""
    session.flush()
    docs = dict(session.exec(select(CreditEvent.id, CreditEvent.document_no)).all())

    def named(text: str | None) -> str | None:
        if text and "#" in text:
            head, _, tail = text.rpartition("#")
            return f"{head}#{docs.get(int(tail), tail)}"
        return text

    listings = [
        (
            e.firm_id, e.kind, e.status, e.reason, e.basis, e.rule_set_version, docs.get(e.covers_event_id),
            e.proposed_on, e.listed_from, e.listed_until, e.ended_on, e.end_code, named(e.end_reason),
        )
        for e in session.exec(select(Listing).order_by(Listing.firm_id, Listing.kind, Listing.id))
    ]  # fmt: skip
    grades = [
        (a.firm_id, a.as_of, a.score, a.grade, a.triggers, bool(a.red_eligible), a.red_basis, a.rule_set_version)
        for a in session.exec(select(FirmAssessment).order_by(FirmAssessment.firm_id))
    ]
    links = sorted(
        (e.document_no, docs.get(e.rectifies_id), e.status)
        for e in session.exec(select(CreditEvent).where(col(CreditEvent.import_batch_id).is_not(None)))
    )
    return listings, grades, links


def per_firm_path(session: Session, data: bytes, rec: User, rev: User) -> None:
    """What an approved import did before issue 10: approve the batch, then after_events_change."""
    report = import_events(session, data, recorder=rec, filename="e.csv")
    assert report.ok, report.errors
    batch = session.exec(  # newest first: which event a removal names must not hang on the list's order
        select(CreditEvent).where(CreditEvent.import_batch_id == report.batch_id).order_by(col(CreditEvent.id).desc())
    ).all()
    for event in batch:
        event.status = EventStatus.effective
        event.reviewed_by_id = rev.id
        session.add(event)
    session.flush()
    after_events_change(session, list(batch))


@pytest.mark.parametrize("chunk", [2000, 2])
def test_an_approved_import_lists_exactly_as_the_per_firm_path(session, city, monkeypatch, chunk):
    monkeypatch.setattr(event_import, "CHUNK", chunk)
    firms, rec, rev, data = city
    outer = session.begin_nested()
    try:
        inner = session.begin_nested()
        per_firm_path(session, data, rec, rev)
        expected = state(session)
        inner.rollback()
        session.expire_all()
        report = import_events(session, data, recorder=rec, approve_as=rev, filename="e.csv")
        assert report.ok, report.errors
        assert (report.created, report.approved) == (9, 9)
        got = state(session)
    finally:
        outer.rollback()
    assert got[2] == expected[2]  # the rectifications close the same failures
    assert got[1] == expected[1]  # the stored assessments
    assert got[0] == expected[0]  # the listings, field by field
    red, renew, black, new_red, _, _ = firms
    by_firm = {(row[0], row[1], row[2]): row for row in got[0]}
    assert by_firm[(red.id, "red", "removed")][11] == "negative_event"
    assert by_firm[(red.id, "red", "removed")][12].endswith("#诉-1")  # the firm's first negative event
    assert (black.id, "black", "proposed") in by_firm
    assert (new_red.id, "red", "listed") in by_firm
    assert by_firm[(renew.id, "red", "listed")][9] > by_firm[(renew.id, "red", "listed")][8]
    links = {doc: failure for doc, failure, _ in got[2]}
    assert (links["复-1"], links["复-2"]) == ("不合格-2", "不合格-1")  # latest open failure first


def test_an_approved_batch_is_audited_per_event_and_assessed_as_one_act(session, city):
    _, rec, rev, data = city
    report = import_events(session, data, recorder=rec, approve_as=rev, filename="e.csv")
    assert report.ok
    approvals = session.exec(
        select(AuditEntry).where(AuditEntry.entity == "credit_event", AuditEntry.action == "update")
    ).all()
    batch_ids = session.exec(select(CreditEvent.id).where(CreditEvent.import_batch_id == report.batch_id)).all()
    assert sorted(int(a.entity_id) for a in approvals) == sorted(batch_ids)
    assert {(a.actor, a.before["status"], a.after["status"]) for a in approvals} == {("rev-sb", "pending", "effective")}
    acts = session.exec(select(AuditEntry).where(AuditEntry.action == "assess")).all()
    assert [a.after["scope"] for a in acts if "scope" in a.after] == ["batch"]


def test_a_key_repeated_across_chunks_names_its_first_row(session, city, monkeypatch):
    """The first pass keeps no per-row memory: a repeat found by the key lookup in a later chunk is
    reported with the row that first had it, found by a second pass over the file."""
    monkeypatch.setattr(event_import, "CHUNK", 2)
    firms, rec, _, _ = city
    rows = [
        {"uscc": firms[4].uscc, "event_type": "credit_report", "occurred_on": ago(9), "document_no": f"报-{n}"}
        for n in range(5)
    ]
    rows.append({**rows[1]})  # row 7 repeats row 3, three chunks later
    rows.append({**rows[0], "uscc": "91440300MA5DC3JK7X"})  # checksum-valid, unregistered
    data = csv_bytes([{**r, "authority": AUTHORITY} for r in rows])
    before = session.exec(select(CreditEvent.id)).all()
    report = import_events(session, data, recorder=rec, filename="e.csv")
    assert not report.ok
    assert [(e.row, e.column) for e in report.errors] == [(7, "document_no"), (8, "uscc")]
    assert "第 3 行" in report.errors[0].reason
    assert report.created == 0
    assert session.exec(select(CreditEvent.id)).all() == before


def test_every_bad_row_in_every_chunk_is_reported(session, city, monkeypatch):
    monkeypatch.setattr(event_import, "CHUNK", 3)
    firms, rec, _, _ = city
    good = {"uscc": firms[4].uscc, "event_type": "credit_report", "occurred_on": ago(9), "authority": AUTHORITY}
    rows = [{**good, "document_no": f"报-{n}"} for n in range(10)]
    rows[1]["occurred_on"] = "2026-13-01"
    rows[5]["event_type"] = "nonsense"
    rows[9]["uscc"] = "123"
    report = import_events(session, csv_bytes(rows), recorder=rec, filename="e.csv")
    assert [e.row for e in report.errors] == [3, 7, 11]
    assert report.created == 0


def test_a_stream_that_cannot_seek_is_imported(session, city, tmp_path: Path):
    """A web upload or a pipe: the import spools it rather than reading it whole into memory."""
    firms, rec, _, _ = city
    data = csv_bytes(
        [{"uscc": firms[4].uscc, "event_type": "credit_report", "occurred_on": ago(9), "document_no": "报-x",
          "authority": AUTHORITY}]
    )  # fmt: skip

    class Pipe(io.RawIOBase):
        def __init__(self, payload: bytes) -> None:
            self.inner = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer) -> int:
            chunk = self.inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    report = import_events(session, Pipe(data), recorder=rec, filename="e.csv")
    assert report.ok and report.created == 1
