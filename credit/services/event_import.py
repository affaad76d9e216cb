"""Importing credit events from CSV/XLSX: all or nothing, every bad row reported, idempotent on the
natural key (firm + type + document number), recorded as one import batch."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import insert, tuple_
from sqlmodel import Session, col, select

from credit.catalog import EVENT_TYPES, SEVERITY_LABELS
from credit.models import CreditEvent, EventStatus, Firm, ImportBatch, User, utcnow
from credit.models.audit import audit_row, write_audit
from credit.services.event_input import EVENT_FIELDS, EventInput, parse_event
from credit.services.events import EventError, approve_batch, build_event
from credit.services.tabular import ImportFileError, RowError, read_table

EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "uscc": ("统一社会信用代码", "信用代码"),
    "event_type": ("事件类型", "类型"),
    "occurred_on": ("发生日期", "日期", "作出日期"),
    "document_no": ("文书号", "文书编号", "决定书文号"),
    "authority": ("作出机关", "实施机关", "机关"),
    "severity": ("严重程度", "程度"),
    "amount": ("金额", "罚没金额", "罚款金额"),
    "product": ("产品", "产品名称"),
    "valid_until": ("有效期至", "有效期"),
    "description": ("描述", "说明", "备注"),
    "person_name": ("姓名", "首席质量官姓名"),
    "certificate_no": ("证书编号", "培训证书编号"),
    "rectifies_document_no": ("关联不合格文书号", "整改对应文书号"),
}
REQUIRED_EVENT_COLUMNS = ("uscc", "event_type", "occurred_on", "document_no", "authority")
# Cells may carry the Chinese label instead of the code.
TYPE_BY_LABEL = {t.label: t.code for t in EVENT_TYPES.values()}
SEVERITY_BY_LABEL = {"一般": "general", "严重": "serious", "从重": "heavy"} | {v: k for k, v in SEVERITY_LABELS.items()}
CHUNK = 2000


@dataclass
class EventImportReport:
    """What an events import did: rows read, added, already on file, and every bad row."""

    rows: int = 0
    created: int = 0
    skipped: int = 0
    approved: int = 0
    batch_id: int | None = None
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _normalise(raw: dict[str, str]) -> dict[str, str]:
    raw = dict(raw)
    raw["event_type"] = TYPE_BY_LABEL.get(raw.get("event_type", ""), raw.get("event_type", ""))
    raw["severity"] = SEVERITY_BY_LABEL.get(raw.get("severity", ""), raw.get("severity", ""))
    return raw


def _firm_ids(session: Session, usccs: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    ordered = sorted(usccs)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        found.update(session.exec(select(Firm.uscc, Firm.id).where(col(Firm.uscc).in_(chunk))).all())  # type: ignore[arg-type]
    return found


def existing_keys(session: Session, keys: list[tuple[int, str, str]]) -> dict[tuple[int, str, str], int]:
    """The natural keys (firm id, type, document number) already on file as original records, with the id
    of the record that holds each."""
    found: dict[tuple[int, str, str], int] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        rows = session.exec(
            select(CreditEvent.firm_id, CreditEvent.event_type, CreditEvent.document_no, CreditEvent.id).where(
                tuple_(CreditEvent.firm_id, CreditEvent.event_type, CreditEvent.document_no).in_(chunk),
                col(CreditEvent.corrects_id).is_(None),
            )
        ).all()
        found.update({(r[0], r[1], r[2]): r[3] for r in rows})  # type: ignore[misc]
    return found


def event_row(data: EventInput, firm_id: int, *, batch_id: int, recorder_id: int, now, **extra: str) -> dict:
    """The column values of a pending imported event, for a set-based insert (`extra`: the failed item,
    result and limit of a spot-check failure)."""
    return {
        "firm_id": firm_id,
        "event_type": data.event_type,
        "occurred_on": data.occurred_on,
        "document_no": data.document_no,
        "authority": data.authority,
        "severity": data.severity,
        "amount": data.amount,
        "product": data.product,
        "valid_until": data.valid_until,
        "description": data.description,
        "person_name": data.person_name,
        "certificate_no": data.certificate_no,
        "failed_item": extra.get("failed_item", ""),
        "failed_result": extra.get("failed_result", ""),
        "failed_limit": extra.get("failed_limit", ""),
        "rectifies_id": None,
        "corrects_id": None,
        "correction_reason": "",
        "status": EventStatus.pending.value,
        "source": "import",
        "import_batch_id": batch_id,
        "api_key_id": None,
        "recorded_by_id": recorder_id,
        "recorded_at": now,
        "reviewed_by_id": None,
        "reviewed_at": None,
        "review_note": "",
        "revoked_by_id": None,
        "revoked_at": None,
        "revoke_reason": "",
    }


def import_events(
    session: Session,
    source: str | Path | IO[bytes] | bytes,
    *,
    recorder: User,
    filename: str = "",
    approve_as: User | None = None,
    progress: Callable[[int], None] | None = None,
) -> EventImportReport:
    """Import an events file as `recorder`. Any bad row and nothing is written (the work is done inside a
    savepoint that is rolled back). Rows whose natural key is already on file are skipped. With
    `approve_as`, a second person approves the batch at once (four-eyes still holds)."""
    if isinstance(source, str | Path):
        filename = filename or Path(source).name
        data = Path(source).read_bytes()
    elif isinstance(source, bytes):
        data = source
    else:
        data = source.read()
    report = EventImportReport()
    if approve_as is not None and approve_as.id == recorder.id:
        report.errors.append(RowError(0, "", "录入人与审核人不能是同一人(双人复核)"))
        return report
    if approve_as is not None and not approve_as.has_role("reviewer"):
        report.errors.append(RowError(0, "", f"{approve_as.username} 不是审核员,不能审核导入的事件"))
        return report

    parsed: list[tuple[int, EventInput]] = []
    seen: dict[tuple[str, str, str], int] = {}
    try:
        for number, raw in read_table(data, EVENT_COLUMNS, required=REQUIRED_EVENT_COLUMNS, filename=filename):
            report.rows += 1
            event, errors = parse_event(_normalise(raw))
            if event is None:
                report.errors += [RowError(number, e.field, e.message) for e in errors]
                continue
            key = (event.uscc, event.event_type, event.document_no)
            if key in seen:
                report.errors.append(
                    RowError(number, "document_no", f"与第 {seen[key]} 行重复(同一企业、类型、文书号)")
                )
                continue
            seen[key] = number
            parsed.append((number, event))
    except ImportFileError as exc:
        report.errors = exc.errors
        return report
    if report.rows == 0:
        report.errors.append(RowError(0, "", "文件中没有数据行"))
    firms = _firm_ids(session, {e.uscc for _, e in parsed})
    for number, event in parsed:
        if event.uscc not in firms:
            report.errors.append(RowError(number, "uscc", f"统一社会信用代码 {event.uscc} 未登记"))
    if not report.ok:
        report.errors.sort(key=lambda e: e.row)
        return report

    savepoint = session.begin_nested()
    batch = ImportBatch(
        filename=(filename or "upload")[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        rows=report.rows,
        recorded_by_id=recorder.id,  # type: ignore[arg-type]
    )
    session.add(batch)
    session.flush()
    existing = existing_keys(session, [(firms[e.uscc], e.event_type, e.document_no) for _, e in parsed])
    now = utcnow()
    plain: list[dict] = []
    linked: list[tuple[int, EventInput]] = []
    for number, event in parsed:
        if (firms[event.uscc], event.event_type, event.document_no) in existing:
            report.skipped += 1
        elif EVENT_TYPES[event.event_type].closes_failure:
            linked.append((number, event))  # after the failures of this file are in
        else:
            plain.append(event_row(event, firms[event.uscc], batch_id=batch.id, recorder_id=recorder.id, now=now))  # type: ignore[arg-type]
    for start in range(0, len(plain), CHUNK):
        session.execute(insert(CreditEvent), plain[start : start + CHUNK])
        if progress:
            progress(len(plain[start : start + CHUNK]))
    for number, event in linked:
        try:
            record = build_event(session, event)
        except EventError as exc:
            report.errors += [RowError(number, e.field, e.message) for e in exc.errors]
            continue
        row = event_row(event, firms[event.uscc], batch_id=batch.id, recorder_id=recorder.id, now=now)  # type: ignore[arg-type]
        row["rectifies_id"] = record.rectifies_id
        session.execute(insert(CreditEvent), [row])
        if progress:
            progress(1)
    if not report.ok:
        savepoint.rollback()
        report.errors.sort(key=lambda e: e.row)
        return report
    report.created = len(plain) + len(linked)
    if report.created == 0:
        savepoint.rollback()  # everything was on file already: a re-import leaves no trace, not even a batch
        return report
    batch.created = report.created
    batch.skipped = report.skipped
    session.add(batch)
    session.flush()
    report.batch_id = batch.id
    audit_batch(session, batch)
    if approve_as is not None and report.created:
        report.approved = approve_batch(session, batch, approve_as).approved
    savepoint.commit()
    return report


def audit_batch(session: Session, batch: ImportBatch, **extra: object) -> None:
    """The rows of a bulk import are audited as one act: the batch, its file's fingerprint and counts."""
    write_audit(
        session,
        [
            audit_row(
                session.info["actor"],
                action="import",
                entity="import_batch",
                entity_id=str(batch.id),
                after={
                    "filename": batch.filename,
                    "sha256": batch.sha256,
                    "rows": batch.rows,
                    "created": batch.created,
                    "skipped": batch.skipped,
                    **extra,
                },
            )
        ],
    )


def template_rows() -> list[list[str]]:
    """The header and two example rows of the downloadable template."""
    return [
        list(EVENT_FIELDS),
        [
            "914403001922038216",
            "spot_check_fail",
            "2026-03-15",
            "东市监抽〔2026〕15号",
            "东莞市市场监督管理局",
            "serious",
            "",
            "电热水壶",
            "",
            "耐压试验不合格",
            "",
            "",
            "",
        ],
        [
            "914403001922038216",
            "cqo_appointed",
            "2026-04-01",
            "CQO-2026-001",
            "东莞市市场监督管理局",
            "",
            "",
            "",
            "",
            "",
            "张三",
            "ZLG-2026-0001",
            "",
        ],
    ]
