"""The credit file's services on a real database (SPEC §2 credit events): recording, four-eyes review,
revocation and correction, rectifications, batch approval, the file itself and the system user.

Nothing is ever deleted: the last tests hold the database itself to that, whoever writes."""

from __future__ import annotations

from datetime import date
from itertools import count
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col, func, select

from credit.models import AuditEntry, CreditEvent, EventStatus, Firm, ImportBatch, User
from credit.services.event_import import import_events
from credit.services.events import (
    SYSTEM_USERNAME,
    EventError,
    FileQuery,
    approve_batch,
    approve_event,
    correct_event,
    credit_file,
    ensure_system_user,
    record_event,
    reject_event,
    revoke_event,
)
from credit.services.users import authenticate, set_password
from tests.factories import firm_row, make_firm, make_user

EXTRAS: dict[str, dict[str, str]] = {
    "spot_check_fail": {"severity": "general"},
    "penalty": {"severity": "general"},
    "famous_brand": {"valid_until": "2028-12-31"},
    "certification": {"valid_until": "2028-12-31"},
    "cqo_appointed": {"person_name": "张三", "certificate_no": "ZLG-1"},
    "cqo_left": {"person_name": "张三", "certificate_no": "ZLG-1"},
}
_documents = count(1)


def doc_no() -> str:
    return f"东市监〔2025〕{next(_documents)}号"


def event_raw(firm: Firm, event_type: str = "spot_check_pass", **overrides: Any) -> dict[str, Any]:
    """A valid submission for `firm` with a fresh document number."""
    return {
        "uscc": firm.uscc,
        "event_type": event_type,
        "occurred_on": "2025-05-10",
        "document_no": doc_no(),
        "authority": "东莞市市场监督管理局",
        **EXTRAS.get(event_type, {}),
        **overrides,
    }


_staff = count(1)


def staff(session, role: str) -> User:
    """A staff account for services that never log in (no password hashing: these tests make many)."""
    user = User(username=f"staff{next(_staff)}", role=role, password_hash="!")
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def people(session) -> SimpleNamespace:
    """Two firms, two recorders, two reviewers, an admin and a checker."""
    return SimpleNamespace(
        firm=make_firm(session),
        other_firm=make_firm(session),
        recorder=staff(session, "recorder"),
        recorder2=staff(session, "recorder"),
        reviewer=staff(session, "reviewer"),
        reviewer2=staff(session, "reviewer"),
        admin=staff(session, "admin"),
        checker=staff(session, "checker"),
    )


def record(session, people, event_type: str = "spot_check_pass", *, by: User | None = None, **kw: Any) -> CreditEvent:
    return record_event(session, event_raw(people.firm, event_type, **kw), recorder=by or people.recorder)


def effective(session, people, event_type: str = "spot_check_pass", **kw: Any) -> CreditEvent:
    return approve_event(session, record(session, people, event_type, **kw), people.reviewer)


def audit_updates(session, event: CreditEvent) -> list[AuditEntry]:
    return list(
        session.exec(
            select(AuditEntry)
            .where(
                AuditEntry.entity == "credit_event",
                AuditEntry.entity_id == str(event.id),
                AuditEntry.action == "update",
            )
            .order_by(col(AuditEntry.id))
        )
    )


def event_count(session) -> int:
    return session.exec(select(func.count()).select_from(CreditEvent)).one()


# --- recording -------------------------------------------------------------------------------------------


def test_record_event_creates_a_pending_event_with_its_recorder(session, people):
    event = record_event(
        session,
        event_raw(people.firm, "penalty", severity="heavy", amount="20,000", product="电热水壶", description="说明"),
        recorder=people.recorder,
    )
    session.expire_all()
    stored = session.get(CreditEvent, event.id)
    assert stored.status == EventStatus.pending
    assert stored.firm_id == people.firm.id
    assert stored.recorded_by_id == people.recorder.id
    assert stored.recorded_at is not None
    assert stored.source == "form"
    assert (stored.severity, stored.amount, stored.product) == ("heavy", 20000, "电热水壶")
    assert stored.reviewed_by_id is None and stored.reviewed_at is None
    assert stored.corrects_id is None and stored.rectifies_id is None
    created = session.exec(
        select(AuditEntry).where(AuditEntry.entity == "credit_event", AuditEntry.action == "create")
    ).all()
    assert [e.entity_id for e in created] == [str(event.id)]


def test_record_event_for_an_unknown_firm(session, people):
    unknown = firm_row()["uscc"]  # valid, never registered
    with pytest.raises(EventError) as caught:
        record_event(session, event_raw(people.firm, uscc=unknown), recorder=people.recorder)
    assert [e.field for e in caught.value.errors] == ["uscc"]
    assert unknown in caught.value.errors[0].message
    assert not caught.value.conflict
    assert event_count(session) == 0


def test_record_event_reports_every_invalid_field(session, people):
    with pytest.raises(EventError) as caught:
        record_event(
            session,
            event_raw(people.firm, "penalty", severity="", amount="abc", occurred_on="2025/01/01"),
            recorder=people.recorder,
        )
    assert {e.field for e in caught.value.errors} == {"severity", "amount", "occurred_on"}
    assert event_count(session) == 0


@pytest.mark.parametrize("status", ["pending", "effective", "rejected", "revoked"])
def test_duplicate_natural_key_is_a_conflict_whatever_the_status_of_the_first(session, people, status):
    first = record(session, people, "spot_check_fail", document_no="东市监抽〔2025〕9号")
    if status in ("effective", "revoked"):
        approve_event(session, first, people.reviewer)
    if status == "rejected":
        reject_event(session, first, people.reviewer, "文书号有误")
    if status == "revoked":
        revoke_event(session, first, people.reviewer, "决定已撤销")
    assert first.status == status
    with pytest.raises(EventError) as caught:
        record(session, people, "spot_check_fail", document_no="东市监抽〔2025〕9号", by=people.recorder2)
    assert caught.value.conflict
    assert [e.field for e in caught.value.errors] == ["document_no"]
    assert f"#{first.id}" in caught.value.errors[0].message
    assert event_count(session) == 1


def test_same_document_number_for_another_type_or_firm_is_not_a_duplicate(session, people):
    record(session, people, "spot_check_fail", document_no="D-1")
    record(session, people, "penalty", document_no="D-1")
    record_event(session, event_raw(people.other_firm, "spot_check_fail", document_no="D-1"), recorder=people.recorder)
    assert event_count(session) == 3


# --- review (four-eyes) ----------------------------------------------------------------------------------


def test_approve_makes_it_effective_and_names_the_reviewer(session, people):
    event = record(session, people)
    approve_event(session, event, people.reviewer, note="  核对无误 ")
    session.expire_all()
    stored = session.get(CreditEvent, event.id)
    assert stored.status == EventStatus.effective
    assert stored.reviewed_by_id == people.reviewer.id
    assert stored.reviewed_at is not None
    assert stored.review_note == "核对无误"
    assert stored.recorded_by_id == people.recorder.id


def review(session, action: str, event: CreditEvent, user: User) -> CreditEvent:
    if action == "approve":
        return approve_event(session, event, user)
    return reject_event(session, event, user, "资料不全")


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_nobody_reviews_their_own_record_even_a_reviewer(session, people, action):
    event = record(session, people, by=people.reviewer)  # a reviewer may also record
    with pytest.raises(EventError, match="双人复核"):
        review(session, action, event, people.reviewer)
    assert event.status == EventStatus.pending
    review(session, action, event, people.reviewer2)
    assert event.status == (EventStatus.effective if action == "approve" else EventStatus.rejected)
    assert event.reviewed_by_id == people.reviewer2.id


@pytest.mark.parametrize("action", ["approve", "reject"])
@pytest.mark.parametrize("role", ["recorder2", "admin", "checker"])
def test_only_a_reviewer_may_review(session, people, action, role):
    event = record(session, people)
    with pytest.raises(EventError, match="不是审核员"):
        review(session, action, event, getattr(people, role))
    assert event.status == EventStatus.pending
    assert event.reviewed_by_id is None


@pytest.mark.parametrize("reason", ["", "   \n "])
def test_reject_needs_a_reason(session, people, reason):
    event = record(session, people)
    with pytest.raises(EventError) as caught:
        reject_event(session, event, people.reviewer, reason)
    assert [e.field for e in caught.value.errors] == ["reason"]
    assert event.status == EventStatus.pending


def test_reject_keeps_the_reason(session, people):
    event = reject_event(session, record(session, people), people.reviewer, "  文书号与原件不符 ")
    assert event.status == EventStatus.rejected
    assert event.review_note == "文书号与原件不符"
    assert event.reviewed_by_id == people.reviewer.id and event.reviewed_at is not None


@pytest.mark.parametrize(
    ("first", "second"),
    [("approve", "approve"), ("approve", "reject"), ("reject", "approve"), ("reject", "reject")],
)
def test_a_reviewed_event_cannot_be_reviewed_again(session, people, first, second):
    event = review(session, first, record(session, people), people.reviewer)
    status, reviewed_at = event.status, event.reviewed_at
    with pytest.raises(EventError, match=r"已由.*处理"):
        review(session, second, event, people.reviewer2)
    assert (event.status, event.reviewed_by_id, event.reviewed_at) == (status, people.reviewer.id, reviewed_at)


@pytest.mark.parametrize(
    ("step", "before", "after"),
    [("approve", "pending", "effective"), ("reject", "pending", "rejected"), ("revoke", "effective", "revoked")],
)
def test_every_status_change_is_audited(session, people, step, before, after):
    event = record(session, people)
    if step == "revoke":
        approve_event(session, event, people.reviewer)
        revoke_event(session, event, people.reviewer2, "处罚决定被撤销")
    else:
        review(session, step, event, people.reviewer)
    changes = [(e.before["status"], e.after["status"]) for e in audit_updates(session, event) if "status" in e.after]
    assert changes[-1] == (before, after)
    assert all(e.actor == "tester" for e in audit_updates(session, event))


# --- revocation and deletion -----------------------------------------------------------------------------


def test_revoke_keeps_the_record_with_reason_and_reviewer(session, people):
    event = effective(session, people, "penalty")
    revoke_event(session, event, people.reviewer2, "  行政复议撤销原处罚决定 ")
    session.expire_all()
    stored = session.get(CreditEvent, event.id)
    assert stored.status == EventStatus.revoked
    assert stored.revoke_reason == "行政复议撤销原处罚决定"
    assert stored.revoked_by_id == people.reviewer2.id
    assert stored.revoked_at is not None
    assert stored.reviewed_by_id == people.reviewer.id  # the review is still on file
    assert [e.id for e in credit_file(session, people.firm)] == [event.id]


@pytest.mark.parametrize("status", ["pending", "rejected", "revoked"])
def test_only_an_effective_event_can_be_revoked(session, people, status):
    event = record(session, people)
    if status == "rejected":
        reject_event(session, event, people.reviewer, "错误")
    if status == "revoked":
        approve_event(session, event, people.reviewer)
        revoke_event(session, event, people.reviewer, "错误")
    with pytest.raises(EventError, match="只能撤销已生效" if status != "revoked" else r"已由.*处理"):
        revoke_event(session, event, people.reviewer2, "再撤销一次")
    assert event.status == status


@pytest.mark.parametrize("reason", ["", "  "])
def test_revoke_needs_a_reason(session, people, reason):
    event = effective(session, people)
    with pytest.raises(EventError) as caught:
        revoke_event(session, event, people.reviewer2, reason)
    assert [e.field for e in caught.value.errors] == ["reason"]
    assert event.status == EventStatus.effective


@pytest.mark.parametrize("role", ["recorder", "admin", "checker"])
def test_only_a_reviewer_may_revoke(session, people, role):
    event = effective(session, people)
    with pytest.raises(EventError, match="不是审核员"):
        revoke_event(session, event, getattr(people, role), "理由")
    assert event.status == EventStatus.effective


@pytest.mark.parametrize("statement", ["DELETE FROM credit_event", "DELETE FROM credit_event WHERE status = 'revoked'"])
def test_the_database_refuses_to_delete_a_credit_event(tx, statement):
    with tx() as s:
        firm, recorder, reviewer = make_firm(s), make_user(s, role="recorder"), make_user(s, role="reviewer")
        event = record_event(s, event_raw(firm), recorder=recorder)
        approve_event(s, event, reviewer)
        revoke_event(s, event, reviewer, "错误录入")
        event_id = event.id
    with pytest.raises(DBAPIError, match="never deleted"), tx() as s:
        s.execute(text(statement))
    with pytest.raises(DBAPIError, match="never deleted"), tx() as s:
        s.delete(s.get(CreditEvent, event_id))
        s.flush()
    with tx() as s:
        assert s.get(CreditEvent, event_id).status == EventStatus.revoked


def bare_event(firm: Firm, recorder: User, **kw: Any) -> CreditEvent:
    """An event written straight to the table, past every check of the services."""
    values: dict[str, Any] = {
        "firm_id": firm.id,
        "event_type": "penalty",
        "occurred_on": date(2025, 1, 2),
        "document_no": "东市监罚〔2025〕1号",
        "authority": "东莞市市场监督管理局",
        "severity": "general",
        "recorded_by_id": recorder.id,
        **kw,
    }
    return CreditEvent(**values)


@pytest.mark.parametrize(
    ("second", "refused"),
    [
        ({"status": "pending"}, True),  # a second original with the key, whatever its status
        ({"status": "revoked"}, True),
        ({"status": "effective"}, True),
        ({"status": "effective", "as_correction": True}, True),  # two effective versions of one record
        ({"status": "pending", "as_correction": True}, False),  # a correction shares the key while pending
        ({"status": "effective", "document_no": "东市监罚〔2025〕2号"}, False),
    ],
)
def test_database_keeps_one_effective_record_per_natural_key(session, people, second, refused):
    first = bare_event(people.firm, people.recorder, status="effective")
    session.add(first)
    session.flush()
    values = dict(second)
    if values.pop("as_correction", False):
        values |= {"corrects_id": first.id, "correction_reason": "更正金额"}
    session.add(bare_event(people.firm, people.recorder, **values))
    if refused:
        with pytest.raises(IntegrityError):
            session.flush()
    else:
        session.flush()
        assert event_count(session) == 2


def test_database_keeps_one_pending_correction_per_record(session, people):
    first = bare_event(people.firm, people.recorder, status="effective")
    session.add(first)
    session.flush()
    correction = {"corrects_id": first.id, "correction_reason": "更正", "status": "pending"}
    session.add(bare_event(people.firm, people.recorder, **correction))
    session.flush()
    session.add(bare_event(people.firm, people.recorder, **correction))
    with pytest.raises(IntegrityError):
        session.flush()


# --- corrections -----------------------------------------------------------------------------------------


def correction_raw(original: CreditEvent, firm: Firm, **overrides: Any) -> dict[str, Any]:
    return {
        "uscc": firm.uscc,
        "event_type": original.event_type,
        "occurred_on": original.occurred_on.isoformat(),
        "document_no": original.document_no,
        "authority": original.authority,
        "severity": original.severity,
        "amount": str(original.amount) if original.amount is not None else "",
        **overrides,
    }


def test_correct_event_files_a_pending_correction(session, people):
    original = effective(session, people, "penalty", amount="5000")
    fix = correct_event(
        session,
        original,
        correction_raw(original, people.firm, amount="50000"),
        recorder=people.recorder2,
        reason="  金额录入少一位 ",
    )
    assert fix.id != original.id
    assert fix.status == EventStatus.pending
    assert fix.corrects_id == original.id
    assert fix.correction_reason == "金额录入少一位"
    assert fix.recorded_by_id == people.recorder2.id
    assert (fix.firm_id, fix.event_type, fix.document_no) == (
        original.firm_id,
        original.event_type,
        original.document_no,
    )
    assert fix.amount == 50000
    assert original.status == EventStatus.effective  # the original counts until the correction is approved


@pytest.mark.parametrize("reason", ["", "  "])
def test_a_correction_needs_a_reason(session, people, reason):
    original = effective(session, people)
    with pytest.raises(EventError) as caught:
        correct_event(session, original, correction_raw(original, people.firm), recorder=people.recorder, reason=reason)
    assert [e.field for e in caught.value.errors] == ["reason"]


@pytest.mark.parametrize("change", ["firm", "type"])
def test_a_correction_cannot_change_firm_or_type(session, people, change):
    original = effective(session, people, "spot_check_pass")
    raw = (
        correction_raw(original, people.other_firm)
        if change == "firm"
        else correction_raw(original, people.firm, event_type="interview")
    )
    with pytest.raises(EventError, match="不能改变企业或事件类型"):
        correct_event(session, original, raw, recorder=people.recorder, reason="改")
    assert event_count(session) == 1


def test_a_correction_is_validated_like_any_record(session, people):
    original = effective(session, people, "penalty")
    with pytest.raises(EventError) as caught:
        correct_event(
            session,
            original,
            correction_raw(original, people.firm, severity="serious"),
            recorder=people.recorder,
            reason="改",
        )
    assert [e.field for e in caught.value.errors] == ["severity"]


def test_only_one_pending_correction_at_a_time(session, people):
    original = effective(session, people, "penalty", amount="100")
    first = correct_event(
        session, original, correction_raw(original, people.firm, amount="200"), recorder=people.recorder, reason="一"
    )
    with pytest.raises(EventError) as caught:
        correct_event(
            session,
            original,
            correction_raw(original, people.firm, amount="300"),
            recorder=people.recorder2,
            reason="二",
        )
    assert caught.value.conflict
    assert f"#{first.id}" in str(caught.value)
    reject_event(session, first, people.reviewer, "金额仍不对")
    second = correct_event(
        session, original, correction_raw(original, people.firm, amount="300"), recorder=people.recorder2, reason="二"
    )
    assert second.status == EventStatus.pending and second.corrects_id == original.id


@pytest.mark.parametrize("status", ["pending", "revoked"])
def test_only_effective_or_rejected_records_are_corrected(session, people, status):
    original = record(session, people)
    if status == "revoked":
        approve_event(session, original, people.reviewer)
        revoke_event(session, original, people.reviewer, "撤销")
    with pytest.raises(EventError, match="只能更正"):
        correct_event(session, original, correction_raw(original, people.firm), recorder=people.recorder, reason="改")


def test_approving_a_correction_revokes_the_original_in_the_same_transaction(session, people):
    original = effective(session, people, "penalty", amount="5000")
    fix = correct_event(
        session,
        original,
        correction_raw(original, people.firm, amount="50000", document_no="东市监罚〔2025〕补1号"),
        recorder=people.recorder2,
        reason="金额与文书号有误",
    )
    savepoint = session.begin_nested()
    approve_event(session, fix, people.reviewer2)
    session.expire_all()
    assert session.get(CreditEvent, fix.id).status == EventStatus.effective
    revoked = session.get(CreditEvent, original.id)
    assert revoked.status == EventStatus.revoked
    assert revoked.revoke_reason == f"已更正为 #{fix.id}"
    assert revoked.revoked_by_id == people.reviewer2.id
    assert revoked.revoked_at is not None
    savepoint.rollback()  # undoing the approval undoes both halves
    session.expire_all()
    assert session.get(CreditEvent, fix.id).status == EventStatus.pending
    assert session.get(CreditEvent, original.id).status == EventStatus.effective


def test_the_recorder_of_a_correction_cannot_approve_it(session, people):
    original = effective(session, people)
    fix = correct_event(
        session, original, correction_raw(original, people.firm), recorder=people.reviewer2, reason="改"
    )
    with pytest.raises(EventError, match="双人复核"):
        approve_event(session, fix, people.reviewer2)
    assert original.status == EventStatus.effective


def test_correcting_a_rejected_record(session, people):
    original = reject_event(session, record(session, people, "penalty", amount="1"), people.reviewer, "金额不对")
    fix = correct_event(
        session, original, correction_raw(original, people.firm, amount="1000"), recorder=people.recorder, reason="补正"
    )
    approve_event(session, fix, people.reviewer)
    assert fix.status == EventStatus.effective and fix.amount == 1000
    assert original.status == EventStatus.rejected  # nothing to revoke: it never counted
    assert original.revoked_by_id is None


def test_correcting_a_rectification_keeps_its_failure(session, people):
    failure = effective(session, people, "spot_check_fail", occurred_on="2025-02-01")
    fixed = effective(session, people, "rectified", occurred_on="2025-04-01")
    assert fixed.rectifies_id == failure.id
    fix = correct_event(
        session,
        fixed,
        correction_raw(fixed, people.firm, description="复查合格,补记说明"),
        recorder=people.recorder2,
        reason="补记说明",
    )
    assert fix.rectifies_id == failure.id


# --- rectifications --------------------------------------------------------------------------------------


def test_rectified_links_to_the_failure_it_names(session, people):
    older = record(session, people, "spot_check_fail", occurred_on="2025-02-01", document_no="抽-1")
    record(session, people, "spot_check_fail", occurred_on="2025-03-01", document_no="抽-2")
    fixed = record(session, people, "rectified", occurred_on="2025-06-01", rectifies_document_no="抽-1")
    assert fixed.rectifies_id == older.id


def test_rectified_links_to_the_latest_open_failure(session, people):
    older = effective(session, people, "spot_check_fail", occurred_on="2025-02-01")
    newer = record(session, people, "spot_check_fail", occurred_on="2025-03-01")  # pending counts as open
    record(session, people, "spot_check_fail", occurred_on="2025-08-01")  # after the re-check: not this one
    first = record(session, people, "rectified", occurred_on="2025-06-01")
    second = record(session, people, "rectified", occurred_on="2025-06-02")
    assert (first.rectifies_id, second.rectifies_id) == (newer.id, older.id)
    with pytest.raises(EventError) as caught:
        record(session, people, "rectified", occurred_on="2025-06-03")
    assert [e.field for e in caught.value.errors] == ["rectifies_document_no"]


def test_a_rejected_rectification_leaves_its_failure_open(session, people):
    failure = record(session, people, "spot_check_fail", occurred_on="2025-02-01")
    reject_event(session, record(session, people, "rectified", occurred_on="2025-03-01"), people.reviewer, "未复查")
    assert record(session, people, "rectified", occurred_on="2025-04-01").rectifies_id == failure.id


@pytest.mark.parametrize(
    "setup",
    ["no failure", "failure of another firm", "failure rejected", "failure revoked", "failure after the re-check"],
)
@pytest.mark.parametrize("named", [False, True])
def test_rectified_without_an_open_failure_is_refused(session, people, setup, named):
    firm = people.other_firm if setup == "failure of another firm" else people.firm
    occurred = "2025-09-01" if setup == "failure after the re-check" else "2025-02-01"
    if setup != "no failure":
        failure = record_event(
            session,
            event_raw(firm, "spot_check_fail", occurred_on=occurred, document_no="抽-9"),
            recorder=people.recorder,
        )
        if setup == "failure rejected":
            reject_event(session, failure, people.reviewer, "无效")
        if setup == "failure revoked":
            revoke_event(session, approve_event(session, failure, people.reviewer), people.reviewer, "撤销")
    before = event_count(session)
    with pytest.raises(EventError) as caught:
        record(session, people, "rectified", occurred_on="2025-06-01", rectifies_document_no="抽-9" if named else "")
    assert [e.field for e in caught.value.errors] == ["rectifies_document_no"]
    assert ("抽-9" in caught.value.errors[0].message) == named
    assert event_count(session) == before


# --- batch approval --------------------------------------------------------------------------------------


def import_batch(session, people, rows: int) -> ImportBatch:
    lines = ["uscc,event_type,occurred_on,document_no,authority,severity"]
    lines += [
        f"{people.firm.uscc},spot_check_fail,2025-03-{1 + i % 28:02d},批-{i},东莞市市场监督管理局,general"
        for i in range(rows)
    ]
    report = import_events(session, "\n".join(lines).encode(), recorder=people.recorder, filename="batch.csv")
    assert report.ok and report.created == rows, report.errors
    return session.get(ImportBatch, report.batch_id)


def test_approve_batch_approves_all_pending_except_the_reviewers_own(session, people):
    batch = import_batch(session, people, 5)
    own = record(session, people, "interview", by=people.reviewer)
    own.import_batch_id = batch.id  # a record of this reviewer in the same batch
    rejected = record(session, people, "credit_report")
    reject_event(session, rejected, people.reviewer2, "不属实")
    rejected.import_batch_id = batch.id
    outside = record(session, people, "excellence_model")  # pending, in no batch
    session.add_all([own, rejected])
    session.flush()

    result = approve_batch(session, batch, people.reviewer)

    assert (result.approved, result.skipped_own) == (5, 1)
    session.expire_all()
    in_batch = session.exec(select(CreditEvent).where(CreditEvent.import_batch_id == batch.id)).all()
    by_status = {s: sorted(e.id for e in in_batch if e.status == s) for s in EventStatus}
    assert len(by_status[EventStatus.effective]) == 5
    assert by_status[EventStatus.pending] == [own.id]
    assert by_status[EventStatus.rejected] == [rejected.id]
    assert session.get(CreditEvent, outside.id).status == EventStatus.pending
    for event in in_batch:
        if event.status == EventStatus.effective:
            assert event.reviewed_by_id == people.reviewer.id and event.reviewed_at is not None
            entries = audit_updates(session, event)
            assert len(entries) == 1
            assert entries[0].before == {"status": "pending"}
            assert entries[0].after["status"] == "effective"
            assert entries[0].after["reviewed_by_id"] == people.reviewer.id
            assert entries[0].actor_user_id == people.reviewer.id  # the approval is the reviewer's act
    approvals = [
        e
        for e in session.exec(select(AuditEntry).where(AuditEntry.entity == "credit_event")).all()
        if e.action == "update" and e.before == {"status": "pending"}
    ]
    assert sorted(int(e.entity_id) for e in approvals) == by_status[EventStatus.effective]  # one entry each

    again = approve_batch(session, batch, people.reviewer2)  # now only the reviewer's own is left
    assert (again.approved, again.skipped_own) == (1, 0)


def test_approve_batch_by_its_recorder_approves_nothing(session, people):
    reviewer_recorder = staff(session, "reviewer")
    lines = [
        "uscc,event_type,occurred_on,document_no,authority",
        f"{people.firm.uscc},interview,2025-03-01,约-1,东莞市局",
    ]
    report = import_events(session, "\n".join(lines).encode(), recorder=reviewer_recorder)
    batch = session.get(ImportBatch, report.batch_id)
    assert (approve_batch(session, batch, reviewer_recorder).approved, report.created) == (0, 1)
    assert session.exec(select(CreditEvent.status)).all() == ["pending"]


@pytest.mark.parametrize("role", ["recorder", "admin", "checker"])
def test_approve_batch_needs_a_reviewer(session, people, role):
    batch = import_batch(session, people, 2)
    with pytest.raises(EventError, match="不是审核员"):
        approve_batch(session, batch, getattr(people, role))
    assert set(session.exec(select(CreditEvent.status)).all()) == {"pending"}


# --- the credit file -------------------------------------------------------------------------------------


def test_credit_file_shows_every_status_newest_first_and_filters(session, people):
    made = {
        "pass": effective(session, people, "spot_check_pass", occurred_on="2024-01-10"),
        "fail": record(session, people, "spot_check_fail", occurred_on="2024-06-01"),
        "penalty": effective(session, people, "penalty", occurred_on="2025-01-05"),
        "interview": reject_event(
            session, record(session, people, "interview", occurred_on="2025-03-01"), people.reviewer, "不属实"
        ),
        "fail2": effective(session, people, "spot_check_fail", occurred_on="2025-07-01"),
    }
    revoke_event(session, made["penalty"], people.reviewer2, "复议撤销")
    record_event(session, event_raw(people.other_firm, "spot_check_fail"), recorder=people.recorder)

    def ids(query: FileQuery | None = None) -> list[int]:
        return [e.id for e in credit_file(session, people.firm, query or FileQuery())]

    m = {k: v.id for k, v in made.items()}
    assert ids() == [m["fail2"], m["interview"], m["penalty"], m["fail"], m["pass"]]
    assert {e.status for e in credit_file(session, people.firm)} == set(EventStatus)
    assert ids(FileQuery(event_type="spot_check_fail")) == [m["fail2"], m["fail"]]
    assert ids(FileQuery(since=date(2024, 6, 1), until=date(2025, 3, 1))) == [m["interview"], m["penalty"], m["fail"]]
    assert ids(FileQuery(event_type="spot_check_fail", since=date(2025, 1, 1))) == [m["fail2"]]
    assert ids(FileQuery(until=date(2024, 1, 9))) == []
    assert ids(FileQuery(event_type="award_national")) == []


# --- the system user -------------------------------------------------------------------------------------


def test_ensure_system_user_is_idempotent_and_cannot_log_in(session):
    first = ensure_system_user(session)
    second = ensure_system_user(session)
    assert first.id == second.id
    assert session.exec(select(func.count()).select_from(User).where(User.username == SYSTEM_USERNAME)).one() == 1
    assert first.has_role("recorder")
    assert not first.is_active
    assert authenticate(session, SYSTEM_USERNAME, "").user is None
    set_password(session, first, "known-password-1")  # even with a password someone knows
    assert authenticate(session, SYSTEM_USERNAME, "known-password-1").user is None


def test_a_full_width_document_number_is_the_same_record(session, people):
    """Issue 11 #5: ＦＷ－２０２６－１ and FW-2026-1 were two document numbers, two records of one fact."""
    first = record(session, people, "spot_check_fail", document_no="FW-2026-1")
    with pytest.raises(EventError) as caught:
        record(session, people, "spot_check_fail", document_no="ＦＷ－２０２６－１", by=people.recorder2)
    assert caught.value.conflict and f"#{first.id}" in caught.value.errors[0].message
    assert event_count(session) == 1
