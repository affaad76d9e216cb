"""Importing credit events from CSV/XLSX: all or nothing, every bad row reported, idempotent on the
natural key (firm + type + document number), recorded as one import batch."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlmodel import Session, col, select

from credit.catalog import EVENT_TYPES, SEVERITY_LABELS
from credit.clock import today
from credit.models import CreditEvent, EventStatus, Firm, ImportBatch, User, utcnow
from credit.models.audit import audit_row, write_audit
from credit.services.bulk import insert_rows
from credit.services.event_input import EVENT_FIELDS, EventInput, parse_event
from credit.services.events import record_batch_approval
from credit.services.pilot_codes import PilotCodes
from credit.services.tabular import DEFAULT_LIMITS, ImportFileError, ReadLimits, RowError, open_source, read_table

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
# After a bulk load this large the planner's statistics are refreshed: without them SQLite walks
# ix_credit_event_status for the per-firm trigger lookups of the re-assessment (issue 10).
ANALYZE_AFTER = 10_000
EVENT_TABLE = CreditEvent.__table__  # type: ignore[attr-defined]
CHUNK = 2000  # rows per bulk step: bounded memory, and key lookups of 3 × CHUNK parameters


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
    return {key: found[0] for key, found in _existing(session, keys).items()}


def _existing(session: Session, keys: list[tuple[int, str, str]]) -> dict[tuple[int, str, str], tuple[int, int | None]]:
    """(id, import batch) of the original record holding each of these natural keys, in chunks: by firm
    ids and document numbers (both bounded lists, which every database answers from the natural-key
    index), the exact keys picked in memory."""
    found: dict[tuple[int, str, str], tuple[int, int | None]] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        wanted = set(chunk)
        rows = session.exec(
            select(
                CreditEvent.firm_id,
                CreditEvent.event_type,
                CreditEvent.document_no,
                CreditEvent.id,
                CreditEvent.import_batch_id,
            ).where(
                col(CreditEvent.firm_id).in_(sorted({k[0] for k in chunk})),
                col(CreditEvent.document_no).in_(sorted({k[2] for k in chunk})),
                col(CreditEvent.corrects_id).is_(None),
            )
        ).all()
        found.update({(r[0], r[1], r[2]): (r[3], r[4]) for r in rows if (r[0], r[1], r[2]) in wanted})  # type: ignore[misc]
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


def _sha256(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


@dataclass
class _Run:
    """The state of one import while its file streams past: the batch, the rows to link after the
    failures are in, and the rows whose natural key an earlier chunk of the same file already holds."""

    report: EventImportReport
    batch_id: int
    recorder_id: int
    now: object
    day: object
    reviewer_id: int | None = None  # with --approve-as the rows go in effective, reviewed by this user
    pilot_codes: Container[str] = ()  # recorded legal pilot codes (credit.services.pilot_codes)
    linked: list[tuple[int, int, EventInput]] = field(default_factory=list)
    repeated: list[tuple[int, tuple[str, str, str]]] = field(default_factory=list)


def _chunk(session: Session, run: _Run, rows: list[tuple[int, dict[str, str]]]) -> None:
    """Validate one chunk of rows in bulk (parse, firm lookup, natural keys) and insert its plain rows:
    one firm query and one key query per chunk, one executemany."""
    report = run.report
    parsed: list[tuple[int, EventInput]] = []
    seen: dict[tuple[str, str, str], int] = {}
    for number, raw in rows:
        event, errors = parse_event(_normalise(raw), as_of=run.day, pilot_codes=run.pilot_codes)  # type: ignore[arg-type]
        if event is None:
            report.errors += [RowError(number, e.field, e.message) for e in errors]
            continue
        key = (event.uscc, event.event_type, event.document_no)
        if key in seen:
            report.errors.append(RowError(number, "document_no", _repeat(seen[key])))
            continue
        seen[key] = number
        parsed.append((number, event))
    firms = _firm_ids(session, {e.uscc for _, e in parsed})
    known: list[tuple[int, EventInput]] = []
    for number, event in parsed:
        if event.uscc in firms:
            known.append((number, event))
        else:
            report.errors.append(RowError(number, "uscc", f"统一社会信用代码 {event.uscc} 未登记"))
    on_file = _existing(session, [(firms[e.uscc], e.event_type, e.document_no) for _, e in known])
    plain: list[dict] = []
    for number, event in known:
        firm_id = firms[event.uscc]
        held = on_file.get((firm_id, event.event_type, event.document_no))
        if held is not None and held[1] == run.batch_id:
            run.repeated.append((number, (event.uscc, event.event_type, event.document_no)))
        elif held is not None:
            report.skipped += 1
        elif EVENT_TYPES[event.event_type].closes_failure:
            run.linked.append((number, firm_id, event))  # after the failures of this file are in
        else:
            plain.append(_row(run, event, firm_id))
    if plain:
        insert_rows(session.connection(), EVENT_TABLE, plain)  # COPY or one executemany: no ORM per row
        report.created += len(plain)


def _row(run: _Run, event: EventInput, firm_id: int) -> dict:
    """The row of one event of this import: pending, or with --approve-as effective at once, reviewed by
    the approving reviewer at the import's time (the same state `approve_batch` leaves, without
    rewriting every row by an UPDATE)."""
    row = event_row(event, firm_id, batch_id=run.batch_id, recorder_id=run.recorder_id, now=run.now)
    if run.reviewer_id is not None:
        row.update(status=EventStatus.effective.value, reviewed_by_id=run.reviewer_id, reviewed_at=run.now)
    return row


def _repeat(row: int) -> str:
    return f"与第 {row} 行重复(同一企业、类型、文书号)"


_OPEN_FAILURE = (EventStatus.pending.value, EventStatus.effective.value)


def _link(session: Session, run: _Run) -> None:
    """Resolve and insert the rectifications, as `build_event` would one by one in file order: the failure
    named by its document number, else the firm's latest open failure on or before the re-check that no
    other rectification closes yet — looked up for all of them in chunks, decided in memory."""
    if not run.linked:
        return
    firm_ids = sorted({firm_id for _, firm_id, _ in run.linked})
    failures: dict[int, list[tuple[object, int, str]]] = defaultdict(list)  # firm -> (occurred_on, id, doc)
    closed: set[int] = set()
    for start in range(0, len(firm_ids), CHUNK):
        chunk = firm_ids[start : start + CHUNK]
        for firm_id, occurred_on, event_id, document_no in session.exec(
            select(CreditEvent.firm_id, CreditEvent.occurred_on, CreditEvent.id, CreditEvent.document_no).where(
                col(CreditEvent.firm_id).in_(chunk),
                CreditEvent.event_type == "spot_check_fail",
                col(CreditEvent.status).in_(_OPEN_FAILURE),
            )
        ):
            failures[firm_id].append((occurred_on, event_id, document_no))  # type: ignore[index]
        closed.update(
            session.exec(
                select(CreditEvent.rectifies_id).where(
                    col(CreditEvent.firm_id).in_(chunk),
                    col(CreditEvent.rectifies_id).is_not(None),
                    col(CreditEvent.status).in_(_OPEN_FAILURE),
                )
            )  # type: ignore[arg-type]
        )
    rows: list[dict] = []
    for number, firm_id, event in sorted(run.linked, key=lambda item: item[0]):
        candidates = [f for f in failures.get(firm_id, []) if f[0] <= event.occurred_on]
        if event.rectifies_document_no:
            named = [f for f in candidates if f[2] == event.rectifies_document_no]
            chosen = min(named, key=lambda f: f[1]) if named else None
        else:
            unclosed = [f for f in candidates if f[1] not in closed]
            chosen = max(unclosed, key=lambda f: (f[0], f[1])) if unclosed else None
        if chosen is None:
            which = f"文书号 {event.rectifies_document_no} 的" if event.rectifies_document_no else "可关联的"
            run.report.errors.append(
                RowError(number, "rectifies_document_no", f"找不到该企业{which}监督抽查不合格记录")
            )
            continue
        closed.add(chosen[1])
        row = _row(run, event, firm_id)
        row["rectifies_id"] = chosen[1]
        rows.append(row)
    for start in range(0, len(rows), CHUNK):
        insert_rows(session.connection(), EVENT_TABLE, rows[start : start + CHUNK])
    run.report.created += len(rows)


def _first_rows(
    stream: IO[bytes], filename: str, keys: set[tuple[str, str, str]], limits: ReadLimits, pilot_codes: Container[str]
) -> dict[tuple[str, str, str], int]:
    """The row where each of these natural keys first appears (a second pass, only when a key repeats
    across chunks: the first pass keeps no per-row memory)."""
    found: dict[tuple[str, str, str], int] = {}
    stream.seek(0)
    day = today()
    for number, raw in read_table(
        stream, EVENT_COLUMNS, required=REQUIRED_EVENT_COLUMNS, filename=filename, limits=limits
    ):
        event, _ = parse_event(_normalise(raw), as_of=day, pilot_codes=pilot_codes)
        if event is None:
            continue
        key = (event.uscc, event.event_type, event.document_no)
        if key in keys and key not in found:
            found[key] = number
            if len(found) == len(keys):
                break
    return found


def import_events(
    session: Session,
    source: str | Path | IO[bytes] | bytes,
    *,
    recorder: User,
    filename: str = "",
    approve_as: User | None = None,
    progress: Callable[[int], None] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> EventImportReport:
    """Import an events file as `recorder`. Any bad row and nothing is written (the work is done inside a
    savepoint that is rolled back). Rows whose natural key is already on file are skipped. With
    `approve_as`, a second person approves the batch at once (four-eyes still holds) and the firms are
    re-assessed set-based in the same transaction.

    The file streams through in chunks of CHUNK rows (memory does not grow with the file): each chunk is
    validated in bulk and inserted with one executemany; a repeat of a natural key across chunks is found
    by the key lookup, which sees the rows of earlier chunks."""
    if isinstance(source, str | Path):
        filename = filename or Path(source).name
    report = EventImportReport()
    if approve_as is not None and approve_as.id == recorder.id:
        report.errors.append(RowError(0, "", "录入人与审核人不能是同一人(双人复核)"))
        return report
    if approve_as is not None and not approve_as.has_role("reviewer"):
        report.errors.append(RowError(0, "", f"{approve_as.username} 不是审核员,不能审核导入的事件"))
        return report
    stream = open_source(source)
    try:
        return _import_stream(
            session,
            stream,
            report,
            recorder=recorder,
            filename=filename,
            approve_as=approve_as,
            progress=progress,
            limits=limits,
        )
    finally:
        if stream is not source:
            stream.close()


def _import_stream(
    session: Session,
    stream: IO[bytes],
    report: EventImportReport,
    *,
    recorder: User,
    filename: str,
    approve_as: User | None,
    progress: Callable[[int], None] | None,
    limits: ReadLimits,
) -> EventImportReport:
    sha256 = _sha256(stream)
    savepoint = session.begin_nested()
    batch = ImportBatch(
        filename=(filename or "upload")[:255],
        sha256=sha256,
        rows=0,
        recorded_by_id=recorder.id,  # type: ignore[arg-type]
    )
    session.add(batch)
    session.flush()
    run = _Run(
        report=report,
        batch_id=batch.id,  # type: ignore[arg-type]
        recorder_id=recorder.id,  # type: ignore[arg-type]
        now=utcnow(),
        day=today(),
        reviewer_id=approve_as.id if approve_as is not None else None,
        pilot_codes=PilotCodes(session),
    )
    pending: list[tuple[int, dict[str, str]]] = []
    try:
        for number, raw in read_table(
            stream, EVENT_COLUMNS, required=REQUIRED_EVENT_COLUMNS, filename=filename, limits=limits
        ):
            report.rows += 1
            pending.append((number, raw))
            if len(pending) == CHUNK:
                _chunk(session, run, pending)
                if progress:
                    progress(len(pending))
                pending = []
    except ImportFileError as exc:
        savepoint.rollback()
        report.errors = exc.errors
        report.created = report.skipped = 0
        return report
    if pending:
        _chunk(session, run, pending)
        if progress:
            progress(len(pending))
    if report.rows == 0:
        report.errors.append(RowError(0, "", "文件中没有数据行"))
    if report.ok:
        _link(session, run)
    if run.repeated:
        first = _first_rows(stream, filename, {key for _, key in run.repeated}, limits, run.pilot_codes)
        report.errors += [RowError(number, "document_no", _repeat(first.get(key, 0))) for number, key in run.repeated]
    if not report.ok:
        savepoint.rollback()
        report.created = report.skipped = 0
        report.errors.sort(key=lambda e: e.row)
        return report
    if report.created == 0:
        savepoint.rollback()  # everything was on file already: a re-import leaves no trace, not even a batch
        return report
    batch.rows = report.rows
    batch.created = report.created
    batch.skipped = report.skipped
    session.add(batch)
    session.flush()
    report.batch_id = batch.id
    audit_batch(session, batch)
    if report.created >= ANALYZE_AFTER:
        refresh_statistics(session)
    if approve_as is not None:
        record_batch_approval(session, batch, approve_as, run.now)  # type: ignore[arg-type]
        report.approved = report.created
    savepoint.commit()
    return report


def refresh_statistics(session: Session, *tables: str) -> None:
    """Refresh the planner's statistics of the tables a bulk load grew (SQLite: a bounded ANALYZE;
    PostgreSQL: ANALYZE, which sees the transaction's own rows). Until credit.db offers this for every
    bulk path."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA analysis_limit=2000")
    for name in tables or ("credit_event",):
        connection.exec_driver_sql(f"ANALYZE {name}")  # names from code, never from input


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
