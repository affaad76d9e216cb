"""The credit file: recording, reviewing (four-eyes), revoking and correcting credit events.

Nothing is ever deleted. Every state change is dated, names who made it and why, and goes to the audit
log through the session's hooks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from credit.catalog import EVENT_TYPES
from credit.db import lock_for_update
from credit.models import Actor, ApiKey, CreditEvent, EventStatus, Firm, ImportBatch, User, utcnow
from credit.models.audit import append_audit, audit_row
from credit.services.assessment import after_batch_effective, after_event_change
from credit.services.event_input import EventInput, FieldError, parse_event
from credit.services.firms import get_firm
from credit.services.pilot_codes import PilotCodes

SYSTEM_USERNAME = "system"


class EventError(ValueError):
    """An event that cannot be recorded or a step that cannot be taken; `errors` says why, per field."""

    def __init__(self, errors: list[FieldError] | str, *, conflict: bool = False):
        self.errors = [FieldError("", errors)] if isinstance(errors, str) else errors
        self.conflict = conflict  # the natural key is taken
        super().__init__("; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in self.errors))


def ensure_system_user(session: Session) -> User:
    """The account that records what no person typed (imports without --by). It cannot log in."""
    from secrets import token_hex

    from credit.services.users import hash_password

    user = session.exec(select(User).where(User.username == SYSTEM_USERNAME)).first()
    if user is None:
        user = User(
            username=SYSTEM_USERNAME,
            display_name="系统",
            role="recorder",
            password_hash=hash_password(token_hex(32)),
            is_active=False,
        )
        session.add(user)
        session.flush()
    return user


def find_by_key(session: Session, firm_id: int, event_type: str, document_no: str) -> CreditEvent | None:
    """The original record with this natural key (firm + type + document number), if any."""
    return session.exec(
        select(CreditEvent).where(
            CreditEvent.firm_id == firm_id,
            CreditEvent.event_type == event_type,
            CreditEvent.document_no == document_no,
            col(CreditEvent.corrects_id).is_(None),
        )
    ).first()


def find_failure(session: Session, firm_id: int, data: EventInput) -> CreditEvent | None:
    """The spot-check failure a rectification closes: named by document number, else the firm's latest
    pending or effective failure on or before the re-check that no other rectification closes yet."""
    query = select(CreditEvent).where(
        CreditEvent.firm_id == firm_id,
        CreditEvent.event_type == "spot_check_fail",
        col(CreditEvent.status).in_([EventStatus.pending, EventStatus.effective]),
        CreditEvent.occurred_on <= data.occurred_on,
    )
    if data.rectifies_document_no:
        return session.exec(query.where(CreditEvent.document_no == data.rectifies_document_no)).first()
    closed = select(CreditEvent.rectifies_id).where(
        col(CreditEvent.rectifies_id).is_not(None),
        col(CreditEvent.status).in_([EventStatus.pending, EventStatus.effective]),
    )
    return session.exec(
        query.where(col(CreditEvent.id).not_in(closed)).order_by(
            col(CreditEvent.occurred_on).desc(), col(CreditEvent.id).desc()
        )
    ).first()


def build_event(session: Session, data: EventInput, *, firm: Firm | None = None) -> CreditEvent:
    """A new pending event from checked input, resolved against the database; raises EventError."""
    firm = firm or get_firm(session, data.uscc)
    if firm is None:
        raise EventError([FieldError("uscc", f"统一社会信用代码 {data.uscc} 未登记")])
    rectifies_id = None
    if EVENT_TYPES[data.event_type].closes_failure:
        failure = find_failure(session, firm.id, data)  # type: ignore[arg-type]
        if failure is None:
            which = f"文书号 {data.rectifies_document_no} 的" if data.rectifies_document_no else "可关联的"
            raise EventError([FieldError("rectifies_document_no", f"找不到该企业{which}监督抽查不合格记录")])
        rectifies_id = failure.id
    return CreditEvent(
        firm_id=firm.id,  # type: ignore[arg-type]
        event_type=data.event_type,
        occurred_on=data.occurred_on,
        document_no=data.document_no,
        authority=data.authority,
        severity=data.severity,
        amount=data.amount,
        product=data.product,
        valid_until=data.valid_until,
        description=data.description,
        person_name=data.person_name,
        certificate_no=data.certificate_no,
        rectifies_id=rectifies_id,
        status=EventStatus.pending,
    )


def record_event(
    session: Session,
    raw: dict,
    *,
    recorder: User | None = None,
    api_key: ApiKey | None = None,
    source: str = "form",
) -> CreditEvent:
    """Record one event as `pending`, after the same validation everywhere; raises EventError
    (with `conflict` set when the natural key is already on the file)."""
    data, errors = parse_event(raw, pilot_codes=PilotCodes(session))
    if data is None:
        raise EventError(errors)
    event = build_event(session, data)
    existing = find_by_key(session, event.firm_id, event.event_type, event.document_no)
    if existing is not None:
        raise EventError(
            [FieldError("document_no", f"该企业已有同类型、同文书号的记录(#{existing.id},{existing.status})")],
            conflict=True,
        )
    event.source = source
    event.recorded_by_id = recorder.id if recorder else None
    event.api_key_id = api_key.id if api_key else None
    session.add(event)
    session.flush()
    return event


def _taken_by_someone(session: Session, event: CreditEvent, what: str) -> EventError:
    """The refusal of a step another reviewer took first (two reviewers at once: one succeeds)."""
    who_id = event.revoked_by_id if event.status == EventStatus.revoked else event.reviewed_by_id
    who = session.get(User, who_id) if who_id else None
    name = (who.display_name or who.username) if who is not None else "他人"
    return EventError(f"事件 #{event.id} 已由{name}处理（现为 {event.status}），不能再{what}")


def _require_reviewer(event: CreditEvent, reviewer: User) -> None:
    if not reviewer.has_role("reviewer"):
        raise EventError(f"{reviewer.username} 不是审核员")
    if event.recorded_by_id == reviewer.id:
        raise EventError("不能审核自己录入的事件(双人复核)")


def approve_event(session: Session, event: CreditEvent, reviewer: User, note: str = "") -> CreditEvent:
    """pending → effective, by a reviewer who did not record it. Approving a correction revokes the
    record it corrects in the same transaction."""
    lock_for_update(session, event)
    if event.status != EventStatus.pending:
        raise _taken_by_someone(session, event, "审核")
    _require_reviewer(event, reviewer)
    now = utcnow()
    if event.corrects_id is not None:
        original = session.get(CreditEvent, event.corrects_id)
        if original is not None and original.status == EventStatus.effective:
            original.status = EventStatus.revoked
            original.revoked_by_id = reviewer.id
            original.revoked_at = now
            original.revoke_reason = f"已更正为 #{event.id}"
            session.add(original)
            session.flush()
            after_event_change(session, original)
    event.status = EventStatus.effective
    event.reviewed_by_id = reviewer.id
    event.reviewed_at = now
    event.review_note = note.strip()[:1000]
    session.add(event)
    session.flush()
    after_event_change(session, event)
    return event


def reject_event(session: Session, event: CreditEvent, reviewer: User, reason: str) -> CreditEvent:
    """pending → rejected, with a reason, by a reviewer who did not record it."""
    lock_for_update(session, event)
    if event.status != EventStatus.pending:
        raise _taken_by_someone(session, event, "驳回")
    _require_reviewer(event, reviewer)
    if not reason.strip():
        raise EventError([FieldError("reason", "驳回须说明理由")])
    event.status = EventStatus.rejected
    event.reviewed_by_id = reviewer.id
    event.reviewed_at = utcnow()
    event.review_note = reason.strip()[:1000]
    session.add(event)
    session.flush()
    return event


def revoke_event(session: Session, event: CreditEvent, reviewer: User, reason: str) -> CreditEvent:
    """effective → revoked (撤销), with a reason. The record stays on the file, marked revoked."""
    lock_for_update(session, event)
    if event.status == EventStatus.revoked:
        raise _taken_by_someone(session, event, "撤销")
    if event.status != EventStatus.effective:
        raise EventError(f"只能撤销已生效的事件(#{event.id} 为 {event.status})")
    if not reviewer.has_role("reviewer"):
        raise EventError(f"{reviewer.username} 不是审核员")
    if not reason.strip():
        raise EventError([FieldError("reason", "撤销须说明理由")])
    event.status = EventStatus.revoked
    event.revoked_by_id = reviewer.id
    event.revoked_at = utcnow()
    event.revoke_reason = reason.strip()[:1000]
    session.add(event)
    session.flush()
    after_event_change(session, event)
    return event


def correct_event(session: Session, original: CreditEvent, raw: dict, *, recorder: User, reason: str) -> CreditEvent:
    """A corrected version of an effective or rejected record, pending review. It keeps the natural key
    (firm and type; the document number may be fixed too) and names the record it corrects."""
    if original.status not in (EventStatus.effective, EventStatus.rejected):
        raise EventError(f"只能更正已生效或已驳回的事件(#{original.id} 为 {original.status})")
    if not reason.strip():
        raise EventError([FieldError("reason", "更正须说明理由")])
    data, errors = parse_event(raw, pilot_codes=PilotCodes(session))
    if data is None:
        raise EventError(errors)
    firm = session.get(Firm, original.firm_id)
    if firm is None or data.uscc != firm.uscc or data.event_type != original.event_type:
        raise EventError([FieldError("event_type", "更正不能改变企业或事件类型;请撤销后重新录入")])
    pending = session.exec(
        select(CreditEvent).where(CreditEvent.corrects_id == original.id, CreditEvent.status == EventStatus.pending)
    ).first()
    if pending is not None:
        raise EventError(f"事件 #{original.id} 已有待审核的更正 #{pending.id}", conflict=True)
    if EVENT_TYPES[data.event_type].closes_failure and not data.rectifies_document_no and original.rectifies_id:
        # The original itself keeps its failure "closed", so an unnamed failure would never be found again:
        # a corrected rectification closes the same failure unless it names another.
        failure = session.get(CreditEvent, original.rectifies_id)
        if failure is not None:
            data = replace(data, rectifies_document_no=failure.document_no)
    if data.document_no != original.document_no:
        taken = find_by_key(session, original.firm_id, original.event_type, data.document_no)
        if taken is not None:
            raise EventError(
                [FieldError("document_no", f"该企业已有同类型、同文书号的记录(#{taken.id},{taken.status})")],
                conflict=True,
            )
    event = build_event(session, data, firm=firm)
    event.corrects_id = original.id
    event.correction_reason = reason.strip()[:1000]
    event.source = "form"
    event.recorded_by_id = recorder.id
    session.add(event)
    session.flush()
    return event


@dataclass
class BatchApproval:
    approved: int = 0
    skipped_own: int = 0


def approve_batch(session: Session, batch: ImportBatch, reviewer: User) -> BatchApproval:
    """Approve every pending event of an import batch in a few set-based statements, except those this
    reviewer recorded (four-eyes), then bring the firms' assessments and listings in line set-based (the
    SQL evaluator over the batch's firms), as `after_events_change` does event by event. Each approval
    is audited like a single one (INSERT … SELECT, one row per event); the re-assessment as one act."""
    if not reviewer.has_role("reviewer"):
        raise EventError(f"{reviewer.username} 不是审核员")
    table = CreditEvent.__table__  # type: ignore[attr-defined]
    now = utcnow()
    not_own = or_(table.c.recorded_by_id.is_(None), table.c.recorded_by_id != reviewer.id)
    in_batch = (table.c.import_batch_id == batch.id, table.c.status == EventStatus.pending.value)
    counts = dict(
        session.execute(
            sa_select(not_own, func.count()).where(*in_batch).group_by(not_own)  # type: ignore[arg-type]
        ).all()
    )
    result = BatchApproval(
        approved=sum(n for mine, n in counts.items() if mine),
        skipped_own=sum(n for mine, n in counts.items() if not mine),
    )
    if not result.approved:
        return result
    _audit_approvals(session, reviewer, now, sa_select(table.c.id).where(*in_batch, not_own))
    session.execute(
        update(table)
        .where(*in_batch, not_own)
        .values(status=EventStatus.effective.value, reviewed_by_id=reviewer.id, reviewed_at=now)
    )
    session.expire_all()
    after_batch_effective(session, approved_in_batch(batch.id, reviewer, now))
    return result


def approved_in_batch(batch_id: int, reviewer: User, now: datetime):
    """A SELECT of the ids of the batch's events `reviewer` approved at `now` (one act, one timestamp)."""
    approved = CreditEvent.__table__.alias("approved")  # type: ignore[attr-defined]
    return sa_select(approved.c.id).where(
        approved.c.import_batch_id == batch_id,
        approved.c.status == EventStatus.effective.value,
        approved.c.reviewed_by_id == reviewer.id,
        approved.c.reviewed_at == now,
    )


AUDIT_CHUNK = 5000


def _audit_approvals(session: Session, reviewer: User, now: datetime, ids) -> None:
    """One audit row per approved event over `ids` (a SELECT of event ids), each like a single approval's,
    appended to the chain in chunks (memory bounded whatever the batch's size); the approvals are the
    reviewer's act, whoever opened the session (the CLI acts as the recorder)."""
    table = CreditEvent.__table__  # type: ignore[attr-defined]
    actor = Actor(label=reviewer.username, source=session.info["actor"].source, user_id=reviewer.id)
    after = {"status": "effective", "reviewed_by_id": reviewer.id, "reviewed_at": now.isoformat()}
    connection = session.connection()
    last = 0
    while True:
        chunk = (
            connection.execute(
                sa_select(table.c.id)
                .where(table.c.id.in_(ids), table.c.id > last)
                .order_by(table.c.id)
                .limit(AUDIT_CHUNK)
            )
            .scalars()
            .all()
        )
        if not chunk:
            return
        rows = [
            audit_row(
                actor, action="update", entity="credit_event", entity_id=str(event_id),
                before={"status": "pending"}, after=after, at=now,
            )
            for event_id in chunk
        ]  # fmt: skip
        append_audit(connection, rows)
        last = chunk[-1]


def record_batch_approval(session: Session, batch: ImportBatch, reviewer: User, now: datetime) -> None:
    """An import approved as it is recorded (`import-events --approve-as`): its rows went in effective,
    reviewed by `reviewer` at `now`, so no UPDATE rewrites them; each approval is audited as
    `approve_batch` audits it, and the firms are re-assessed set-based."""
    if not reviewer.has_role("reviewer"):
        raise EventError(f"{reviewer.username} 不是审核员")
    _audit_approvals(session, reviewer, now, approved_in_batch(batch.id, reviewer, now))  # type: ignore[arg-type]
    after_batch_effective(session, approved_in_batch(batch.id, reviewer, now))  # type: ignore[arg-type]


@dataclass(frozen=True)
class FileQuery:
    """Filters of a firm's credit file."""

    event_type: str = ""
    since: date | None = None
    until: date | None = None


def credit_file(session: Session, firm: Firm, query: FileQuery = FileQuery()) -> list[CreditEvent]:
    """Every record on a firm's file, newest first, whatever its status."""
    stmt = select(CreditEvent).where(CreditEvent.firm_id == firm.id)
    if query.event_type:
        stmt = stmt.where(CreditEvent.event_type == query.event_type)
    if query.since:
        stmt = stmt.where(CreditEvent.occurred_on >= query.since)
    if query.until:
        stmt = stmt.where(CreditEvent.occurred_on <= query.until)
    return list(session.exec(stmt.order_by(col(CreditEvent.occurred_on).desc(), col(CreditEvent.id).desc())))


def pending_events(session: Session, *, batch_id: int | None = None, limit: int = 200) -> list[CreditEvent]:
    """The review queue, oldest first."""
    stmt = select(CreditEvent).where(CreditEvent.status == EventStatus.pending)
    if batch_id is not None:
        stmt = stmt.where(CreditEvent.import_batch_id == batch_id)
    return list(session.exec(stmt.order_by(CreditEvent.id).limit(limit)))


def users_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    """Look up the people named on a set of records in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(wanted)))}  # type: ignore[misc]
