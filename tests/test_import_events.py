"""Importing credit events from CSV / XLSX (SPEC §4 import files and `import-events`).

Every scenario runs on a real database with real files in tmp_path, through the service function
`import_events` and through `flask credit import-events`. Data for the command line is prepared with
committed units of work (`tx`), since an open write transaction would block it on SQLite."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from itertools import count
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from openpyxl import Workbook
from sqlmodel import col, func, select

from credit.catalog import EVENT_TYPES, SEVERITY_LABELS
from credit.db import new_session, session_scope
from credit.models import Actor, AuditEntry, CreditEvent, EventStatus, ImportBatch, User
from credit.services.event_import import import_events, template_rows
from credit.services.event_input import EVENT_FIELDS, parse_event
from credit.services.events import SYSTEM_USERNAME, ensure_system_user
from credit.services.tabular import RowError
from credit.services.users import get_user
from tests.factories import firm_row, make_firm

SPEC_HEADER = list(EVENT_FIELDS[:10])  # uscc,event_type,occurred_on,document_no,authority,severity,amount,…
CHINESE_HEADER = [
    "统一社会信用代码",
    "事件类型",
    "发生日期",
    "文书号",
    "作出机关",
    "严重程度",
    "金额",
    "产品",
    "有效期至",
    "描述",
]
AUTHORITY = "东莞市市场监督管理局"


# --- files -----------------------------------------------------------------------------------------------


def write_table(path: Path, header: list[str], rows: list[list[Any]], *, bom: bool = False) -> Path:
    """A CSV (UTF-8, optionally with BOM) or, for a .xlsx name, a workbook with the rows in its first sheet."""
    if path.suffix == ".xlsx":
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        workbook.save(path)
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        path.write_bytes(("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8"))
    return path


def spec_rows(rows: list[dict[str, Any]], header: list[str] = SPEC_HEADER) -> list[list[Any]]:
    """Rows given as {column: value} laid out in the order of a header of canonical names."""
    return [[row.get(name, "") for name in header] for row in rows]


# --- the two ways in -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What an import said, whichever way it was run."""

    ok: bool
    created: int | None = None
    skipped: int | None = None
    approved: int | None = None
    errors: list[str] = field(default_factory=list)
    text: str = ""


def run_service(engine, path: Path, *, by: str = "", approve_as: str = "") -> Outcome:
    """`import_events` in its own unit of work, rolled back when the report is not ok (as callers do)."""
    with session_scope(engine, Actor(label="tester", source="test")) as session:
        recorder = get_user(session, by) if by else ensure_system_user(session)
        assert recorder is not None
        session.info["actor"] = Actor(label=recorder.username, source="test", user_id=recorder.id)
        reviewer = get_user(session, approve_as) if approve_as else None
        report = import_events(session, path, recorder=recorder, approve_as=reviewer)
        if not report.ok:
            session.rollback()
    errors = [str(e) for e in report.errors]
    return Outcome(report.ok, report.created, report.skipped, report.approved, errors, "\n".join(errors))


def number(pattern: str, text: str) -> int | None:
    match = re.search(pattern, text)
    return int(match.group(1)) if match else None


def run_cli(runner, path: Path, *, by: str = "", approve_as: str = "") -> Outcome:
    args = ["credit", "import-events", str(path)]
    if by:
        args += ["--by", by]
    if approve_as:
        args += ["--approve-as", approve_as]
    result = runner.invoke(args=args)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code != 0:
        assert result.stdout == "", "a failed import prints no summary"
        assert result.stderr.splitlines()[-1].startswith("错误: "), result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith(("第 ", "文件"))]
        return Outcome(False, errors=errors, text=result.output)
    return Outcome(
        True,
        created=number(r"新增\s*(\d+)", result.stdout),
        skipped=number(r"已存在\s*(\d+)", result.stdout),
        approved=number(r"已审核生效\s*(\d+)", result.stdout) or 0,
        text=result.output,
    )


Importer = Callable[..., Outcome]


@pytest.fixture(params=["service", "cli"])
def importer(request, engine, runner) -> Importer:
    """Import a file through the service function or through `flask credit import-events`."""

    def run(path: Path, *, by: str = "", approve_as: str = "") -> Outcome:
        if request.param == "service":
            return run_service(engine, path, by=by, approve_as=approve_as)
        return run_cli(runner, path, by=by, approve_as=approve_as)

    return run


# --- data ------------------------------------------------------------------------------------------------

_staff = count(1)


def staff(session, role: str, username: str = "") -> User:
    """A staff account (no password hashing: nobody logs in here)."""
    user = User(username=username or f"imp{next(_staff)}", role=role, password_hash="!")
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def world(tx) -> SimpleNamespace:
    """Three registered firms and one account per role, committed."""
    with tx() as s:
        firms = [make_firm(s) for _ in range(3)]
        users = {
            "rec": staff(s, "recorder"),
            "rec2": staff(s, "recorder"),
            "rev": staff(s, "reviewer"),
            "rev2": staff(s, "reviewer"),
            "admin": staff(s, "admin"),
            "checker": staff(s, "checker"),
        }
    return SimpleNamespace(
        usccs=[f.uscc for f in firms],
        firm_ids={f.uscc: f.id for f in firms},
        **{k: u.username for k, u in users.items()},
        ids={u.username: u.id for u in users.values()},
    )


def totals(tx) -> dict[str, int]:
    with tx() as s:
        return {
            model.__tablename__: s.exec(select(func.count()).select_from(model)).one()
            for model in (CreditEvent, ImportBatch, AuditEntry)
        }


def events(tx) -> list[CreditEvent]:
    with tx() as s:
        return list(s.exec(select(CreditEvent).order_by(col(CreditEvent.id))))


def event(uscc: str, event_type: str = "spot_check_pass", doc: str = "", **kw: Any) -> dict[str, Any]:
    return {
        "uscc": uscc,
        "event_type": event_type,
        "occurred_on": "2025-05-10",
        "document_no": doc or f"文-{next(_staff)}",
        "authority": AUTHORITY,
        **kw,
    }


# --- formats and headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "bom"), [("events.csv", False), ("events_bom.csv", True), ("events.xlsx", False)])
@pytest.mark.parametrize("header", ["spec", "chinese"])
def test_csv_and_xlsx_with_spec_or_chinese_header(importer, world, tx, tmp_path, name, bom, header):
    a, b, _ = world.usccs
    chinese = header == "chinese"
    xlsx = name.endswith(".xlsx")

    def label(code: str) -> str:  # a Chinese spreadsheet carries the Chinese labels
        return EVENT_TYPES[code].label if chinese else code

    rows = [
        [a, label("spot_check_fail"), "2025-03-15", "东市监抽〔2025〕15号", AUTHORITY, "严重" if chinese else "serious",
         "", "电热水壶", "", "耐压试验不合格"],
        [a, label("penalty"), date(2025, 4, 1) if xlsx else "2025-04-01", "东市监罚〔2025〕3号", AUTHORITY,
         "从重" if chinese else "heavy", 1000.5 if xlsx else "1,000.50", "电热水壶", "", ""],
        [b, label("famous_brand"), "2024-12-01", "粤名牌〔2024〕88号", "广东省市场监督管理局", "", "", "空气炸锅",
         date(2027, 12, 1) if xlsx else "2027-12-01", ""],
        [b, label("spot_check_pass"), "2025-06-30", "东市监抽〔2025〕20号", AUTHORITY, "", "", "",
         "", "复检, 合格\n第二行"],
    ]  # fmt: skip
    path = write_table(tmp_path / name, CHINESE_HEADER if chinese else SPEC_HEADER, rows, bom=bom)

    outcome = importer(path, by=world.rec)

    assert outcome.ok, outcome.text
    assert (outcome.created, outcome.skipped) == (4, 0)
    stored = {e.document_no: e for e in events(tx)}
    fail, penalty, brand, passed = (stored[r[3]] for r in rows)
    assert (fail.firm_id, fail.event_type, fail.severity, fail.product) == (
        world.firm_ids[a],
        "spot_check_fail",
        "serious",
        "电热水壶",
    )
    assert fail.occurred_on == date(2025, 3, 15) and fail.amount is None and fail.description == "耐压试验不合格"
    assert (penalty.event_type, penalty.severity, penalty.amount) == ("penalty", "heavy", 1000.5)
    assert penalty.occurred_on == date(2025, 4, 1)
    assert (brand.event_type, brand.valid_until, brand.authority) == (
        "famous_brand",
        date(2027, 12, 1),
        "广东省市场监督管理局",
    )
    assert passed.description == "复检, 合格\n第二行"
    for e in stored.values():
        assert (e.status, e.source, e.recorded_by_id) == (EventStatus.pending, "import", world.ids[world.rec])
        assert e.reviewed_by_id is None and e.import_batch_id is not None


def test_every_type_and_severity_label_is_understood(importer, world, tx, tmp_path):
    uscc = world.usccs[0]
    extras = {
        "spot_check_fail": {"severity": "一般"},
        "penalty": {"severity": SEVERITY_LABELS["heavy"]},  # the full label works too
        "famous_brand": {"valid_until": "2028-01-01"},
        "certification": {"valid_until": "2028-01-01"},
        "cqo_appointed": {"person_name": "张三", "certificate_no": "ZLG-1"},
        "cqo_left": {"person_name": "张三", "certificate_no": "ZLG-1"},
    }
    codes = [code for code in EVENT_TYPES if code != "rectified"] + ["rectified"]  # after its failure
    rows = [
        event(uscc, EVENT_TYPES[code].label, doc=f"文-{code}", occurred_on="2025-05-10", **extras.get(code, {}))
        for code in codes
    ]
    rows.append(event(uscc, "监督抽查不合格", doc="文-serious", severity="严重"))
    header = [*SPEC_HEADER, "姓名", "证书编号"]
    columns = [*SPEC_HEADER, "person_name", "certificate_no"]
    path = write_table(tmp_path / "labels.csv", header, [[r.get(c, "") for c in columns] for r in rows])

    outcome = importer(path, by=world.rec)

    assert outcome.ok, outcome.text
    stored = {e.document_no: e for e in events(tx)}
    assert {doc: e.event_type for doc, e in stored.items() if doc != "文-serious"} == {f"文-{c}": c for c in codes}
    assert stored["文-spot_check_fail"].severity == "general"
    assert stored["文-serious"].severity == "serious"
    assert stored["文-penalty"].severity == "heavy"
    assert (stored["文-cqo_left"].person_name, stored["文-cqo_left"].certificate_no) == ("张三", "ZLG-1")
    assert stored["文-rectified"].rectifies_id is not None


# --- all or nothing, at size -----------------------------------------------------------------------------

BULK_TYPES: list[dict[str, Any]] = [
    {"event_type": "spot_check_pass"},
    {"event_type": "spot_check_fail", "severity": "general"},
    {"event_type": "spot_check_fail", "severity": "serious", "product": "儿童玩具"},
    {"event_type": "penalty", "severity": "general", "amount": "8,000"},
    {"event_type": "penalty", "severity": "heavy", "amount": "250000.50"},
    {"event_type": "famous_brand", "valid_until": "2028-06-30"},
    {"event_type": "certification", "valid_until": "2027-01-31"},
    {"event_type": "cqo_appointed", "person_name": "王五", "certificate_no": "ZLG-2025-7"},
    {"event_type": "interview", "description": "质量约谈"},
    {"event_type": "recall_voluntary"},
    {"event_type": "credit_report"},
    {"event_type": "award_municipal"},
    {"event_type": "standard_leadership"},
]
BULK_COLUMNS = [*SPEC_HEADER, "person_name", "certificate_no"]
BULK_ROWS = 10_000
BAD_INDEX = 7_777  # the one bad data row; a spreadsheet shows it as row BAD_INDEX + 2 (header = row 1)


def bulk_rows(usccs: list[str]) -> list[list[str]]:
    rows = []
    for i in range(BULK_ROWS):
        kind = BULK_TYPES[i % len(BULK_TYPES)]
        day = date(2020 + i % 6, 1 + i % 12, 1 + i % 28).isoformat()
        row = {"uscc": usccs[i % len(usccs)], "occurred_on": day, "document_no": f"东市监〔{2020 + i % 6}〕{i:05d}号"}
        row |= {"authority": AUTHORITY, **kind}
        rows.append([row.get(c, "") for c in BULK_COLUMNS])
    return rows


def test_ten_thousand_rows_with_one_bad_row_import_nothing_then_everything_once(importer, tx, tmp_path):
    with tx() as s:
        usccs = [make_firm(s).uscc for _ in range(200)]
        recorder = staff(s, "recorder").username
    rows = bulk_rows(usccs)
    good = rows[BAD_INDEX][2]
    rows[BAD_INDEX][2] = "2025/13/01"
    path = write_table(tmp_path / "events.csv", BULK_COLUMNS, rows)
    start = totals(tx)

    bad = importer(path, by=recorder)

    assert not bad.ok
    reason = next(e for e in parse_event({"occurred_on": "2025/13/01"})[1] if e.field == "occurred_on")
    assert bad.errors == [str(RowError(BAD_INDEX + 2, "occurred_on", reason.message))]
    assert bad.errors[0].startswith(f"第 {BAD_INDEX + 2} 行")
    assert totals(tx) == start

    rows[BAD_INDEX][2] = good
    path = write_table(tmp_path / "events.csv", BULK_COLUMNS, rows)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    first = importer(path, by=recorder)

    assert first.ok, first.text
    assert (first.created, first.skipped) == (BULK_ROWS, 0)
    after = totals(tx)
    assert (after["credit_event"], after["import_batch"]) == (
        start["credit_event"] + BULK_ROWS,
        start["import_batch"] + 1,
    )
    with tx() as s:
        batch = s.exec(select(ImportBatch)).one()
        assert (batch.filename, batch.sha256) == ("events.csv", digest)
        assert (batch.rows, batch.created, batch.skipped) == (BULK_ROWS, BULK_ROWS, 0)
        new_entries = s.exec(select(AuditEntry).order_by(col(AuditEntry.id)).offset(start["audit_log"])).all()
        # The rows are audited as one act on the batch (plus the batch row's own create/update), not row by row.
        assert {e.entity for e in new_entries} == {"import_batch"}
        imports = [e for e in new_entries if e.action == "import"]
        assert len(imports) == 1
        assert imports[0].entity_id == str(batch.id)
        assert imports[0].after["sha256"] == digest and imports[0].after["created"] == BULK_ROWS
        assert imports[0].actor == recorder
        per_status = dict(s.exec(select(CreditEvent.status, func.count()).group_by(CreditEvent.status)).all())
        assert per_status == {"pending": BULK_ROWS}
        assert s.exec(select(func.count(func.distinct(CreditEvent.firm_id)))).one() == 200
        sample = s.exec(select(CreditEvent).where(CreditEvent.document_no == rows[4][3])).one()
        assert (sample.event_type, sample.severity, sample.amount) == ("penalty", "heavy", 250000.5)

    again = importer(path, by=recorder)

    assert again.ok, again.text
    assert (again.created, again.skipped) == (0, BULK_ROWS)
    assert totals(tx) == after  # no new event, batch or audit entry


# --- bad rows --------------------------------------------------------------------------------------------


def test_every_bad_row_is_reported_and_nothing_imported(importer, world, tx, tmp_path):
    a, b, _ = world.usccs
    unknown = firm_row()["uscc"]  # well-formed, not registered
    rows = [
        event(a, doc="D-1"),  # row 2
        event(unknown, doc="D-2"),  # row 3: unknown firm
        event(b, "penalty", doc="D-3", severity="serious"),  # row 4: not a penalty severity
        event(b, doc="D-4"),  # row 5
        event(a, doc="D-1"),  # row 6: repeats row 2
        event("91440300192203821X", doc="D-6"),  # row 7: malformed code
        event(a, doc="D-7", amount="-5", occurred_on="2025-02-30"),  # row 8: two problems
    ]
    path = write_table(tmp_path / "bad.csv", SPEC_HEADER, spec_rows(rows))
    start = totals(tx)

    outcome = importer(path, by=world.rec)

    assert not outcome.ok
    where = [re.match(r"第 (\d+) 行, 列 (\w+): ", line).groups() for line in outcome.errors]
    assert sorted(where) == sorted(
        [("3", "uscc"), ("4", "severity"), ("6", "document_no"), ("7", "uscc"), ("8", "occurred_on"), ("8", "amount")]
    )
    text = "\n".join(outcome.errors)
    assert f"{unknown} 未登记" in text
    assert "与第 2 行重复" in text
    assert "校验码" in text  # names the rule the code breaks
    assert totals(tx) == start


@pytest.mark.parametrize(
    "second",
    [{"event_type": "spot_check_pass"}, {"event_type": "监督抽查合格"}, {"document_no": "  D-1 "}],
)
def test_a_natural_key_twice_in_one_file(importer, world, tx, tmp_path, second):
    a = world.usccs[0]
    rows = [event(a, doc="D-1"), event(world.usccs[1], doc="D-1"), event(a, "penalty", doc="D-1", severity="general")]
    rows.append({**event(a, doc="D-1", occurred_on="2025-06-01"), **second})
    start = totals(tx)

    outcome = importer(write_table(tmp_path / "dup.csv", SPEC_HEADER, spec_rows(rows)), by=world.rec)

    assert len(outcome.errors) == 1
    assert outcome.errors[0].startswith(str(RowError(5, "document_no", "与第 2 行重复")))
    assert totals(tx) == start


def test_header_problems_stop_the_import(importer, world, tx, tmp_path):
    header = [c for c in SPEC_HEADER if c != "document_no"] + ["备注2"]
    rows = [[world.usccs[0], "spot_check_pass", "2025-01-01", AUTHORITY, "", "", "", "", "", ""]]
    start = totals(tx)

    outcome = importer(write_table(tmp_path / "header.csv", header, rows), by=world.rec)

    assert not outcome.ok
    assert any(line.startswith("第 1 行, 列 document_no: ") for line in outcome.errors), outcome.errors
    assert any(line.startswith("第 1 行, 列 备注2: ") for line in outcome.errors), outcome.errors
    assert totals(tx) == start


def test_a_file_without_rows_is_refused(importer, world, tx, tmp_path):
    outcome = importer(write_table(tmp_path / "empty.csv", SPEC_HEADER, []), by=world.rec)
    assert not outcome.ok
    assert "没有数据行" in outcome.text


# --- rectifications --------------------------------------------------------------------------------------


def test_rectified_rows_link_to_failures_of_the_same_file(importer, world, tx, tmp_path):
    a, b, _ = world.usccs
    rows = [
        event(a, "rectified", doc="复-1", occurred_on="2025-05-01", rectifies_document_no="抽-1"),  # before its failure
        event(b, "rectified", doc="复-2", occurred_on="2025-05-01"),  # the latest open failure of firm b
        event(a, "spot_check_fail", doc="抽-1", occurred_on="2025-01-10", severity="serious"),
        event(a, "spot_check_fail", doc="抽-2", occurred_on="2025-03-10", severity="general"),
        event(b, "spot_check_fail", doc="抽-3", occurred_on="2025-02-10", severity="general"),
        event(b, "spot_check_fail", doc="抽-4", occurred_on="2025-04-10", severity="general"),
    ]
    header = [*SPEC_HEADER, "关联不合格文书号"]
    path = write_table(tmp_path / "rect.csv", header, spec_rows(rows, [*SPEC_HEADER, "rectifies_document_no"]))

    outcome = importer(path, by=world.rec)

    assert outcome.ok, outcome.text
    stored = {e.document_no: e for e in events(tx)}
    assert stored["复-1"].rectifies_id == stored["抽-1"].id
    assert stored["复-2"].rectifies_id == stored["抽-4"].id
    assert {e.import_batch_id for e in stored.values()} == {stored["抽-1"].import_batch_id}


def test_rectified_links_to_a_failure_already_on_file(importer, world, tx, tmp_path):
    a = world.usccs[0]
    write_table(
        tmp_path / "first.csv", SPEC_HEADER, spec_rows([event(a, "spot_check_fail", doc="抽-1", severity="general")])
    )
    assert importer(tmp_path / "first.csv", by=world.rec).ok
    rows = [event(a, "rectified", doc="复-1", occurred_on="2025-07-01")]

    outcome = importer(write_table(tmp_path / "second.csv", SPEC_HEADER, spec_rows(rows)), by=world.rec)

    assert outcome.ok, outcome.text
    stored = {e.document_no: e for e in events(tx)}
    assert stored["复-1"].rectifies_id == stored["抽-1"].id


@pytest.mark.parametrize("named", ["", "抽-404"])
def test_rectified_without_any_failure_imports_nothing(importer, world, tx, tmp_path, named):
    a, b, _ = world.usccs
    rows = [
        event(a, "spot_check_pass", doc="合-1"),
        event(b, "spot_check_fail", doc="抽-1", severity="general", occurred_on="2025-01-01"),  # another firm's
        event(a, "rectified", doc="复-1", occurred_on="2025-06-01", rectifies_document_no=named),
        event(a, "interview", doc="约-1"),
    ]
    path = write_table(
        tmp_path / "rect.csv",
        [*SPEC_HEADER, "rectifies_document_no"],
        spec_rows(rows, [*SPEC_HEADER, "rectifies_document_no"]),
    )
    start = totals(tx)

    outcome = importer(path, by=world.rec)

    assert not outcome.ok
    assert len(outcome.errors) == 1
    assert outcome.errors[0].startswith(str(RowError(4, "rectifies_document_no", "找不到该企业")))
    assert totals(tx) == start


# --- who records, who approves ---------------------------------------------------------------------------


def three_rows(world, tmp_path: Path) -> Path:
    a, b, c = world.usccs
    rows = [event(a, doc="D-1"), event(b, "penalty", doc="D-2", severity="general", amount="500"), event(c, doc="D-3")]
    return write_table(tmp_path / "three.csv", SPEC_HEADER, spec_rows(rows))


def test_approve_as_makes_them_effective(importer, world, tx, tmp_path):
    outcome = importer(three_rows(world, tmp_path), by=world.rec, approve_as=world.rev)

    assert outcome.ok, outcome.text
    assert (outcome.created, outcome.approved) == (3, 3)
    stored = events(tx)
    assert {(e.status, e.recorded_by_id, e.reviewed_by_id) for e in stored} == {
        (EventStatus.effective, world.ids[world.rec], world.ids[world.rev])
    }
    assert all(e.reviewed_at is not None for e in stored)
    with tx() as s:
        imports = s.exec(select(AuditEntry).where(AuditEntry.action == "import")).all()
        approvals = s.exec(select(AuditEntry).where(AuditEntry.entity == "credit_event")).all()
    assert len(imports) == 1
    assert sorted(int(e.entity_id) for e in approvals) == sorted(e.id for e in stored)
    assert {(e.action, e.actor_user_id, e.after["status"]) for e in approvals} == {
        ("update", world.ids[world.rev], "effective")
    }


def test_without_approve_as_they_wait_for_review(importer, world, tx, tmp_path):
    outcome = importer(three_rows(world, tmp_path), by=world.rec)
    assert outcome.ok and outcome.approved == 0
    assert {e.status for e in events(tx)} == {EventStatus.pending}


def test_approve_as_the_recorder_is_refused(importer, world, tx, tmp_path):
    start = totals(tx)
    outcome = importer(three_rows(world, tmp_path), by=world.rec, approve_as=world.rec)
    assert not outcome.ok
    assert totals(tx) == start


def test_a_reviewer_importing_cannot_approve_their_own_import(engine, world, tx, tmp_path):
    """The service holds four-eyes itself, whatever its caller checked."""
    start = totals(tx)
    outcome = run_service(engine, three_rows(world, tmp_path), by=world.rev, approve_as=world.rev)
    assert not outcome.ok
    assert "双人复核" in outcome.text
    assert totals(tx) == start


@pytest.mark.parametrize("who", ["rec2", "admin", "checker"])
def test_approve_as_someone_who_is_not_a_reviewer(importer, world, tx, tmp_path, who):
    start = totals(tx)
    outcome = importer(three_rows(world, tmp_path), by=world.rec, approve_as=getattr(world, who))
    assert not outcome.ok
    assert totals(tx) == start


@pytest.mark.parametrize("who", ["rev", "admin", "checker", "nobody"])
def test_by_must_name_a_recorder(runner, world, tx, tmp_path, who):
    start = totals(tx)
    result = runner.invoke(
        args=["credit", "import-events", str(three_rows(world, tmp_path)), "--by", getattr(world, who, who)]
    )
    assert result.exit_code != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # a one-line reason
    assert result.stderr.startswith("错误: ")
    assert totals(tx) == start


@pytest.mark.parametrize("approve_as", ["", "rev"])
def test_without_by_the_system_user_records(importer, world, tx, tmp_path, approve_as):
    outcome = importer(three_rows(world, tmp_path), approve_as=getattr(world, approve_as, ""))
    assert outcome.ok, outcome.text
    with tx() as s:
        system = get_user(s, SYSTEM_USERNAME)
        batch = s.exec(select(ImportBatch)).one()
    assert system is not None and not system.is_active
    assert batch.recorded_by_id == system.id
    assert {e.recorded_by_id for e in events(tx)} == {system.id}
    expected = EventStatus.effective if approve_as else EventStatus.pending
    assert {e.status for e in events(tx)} == {expected}


# --- re-imports and the template -------------------------------------------------------------------------


def test_reimport_adds_only_what_is_new_whatever_the_format(importer, world, tx, tmp_path):
    a, b, _ = world.usccs
    rows = [event(a, doc="D-1"), event(b, doc="D-2")]
    assert importer(write_table(tmp_path / "one.csv", SPEC_HEADER, spec_rows(rows)), by=world.rec).ok
    more = [*rows, event(a, "interview", doc="D-3")]
    batches = totals(tx)["import_batch"]

    outcome = importer(write_table(tmp_path / "two.xlsx", SPEC_HEADER, spec_rows(more)), by=world.rec2)

    assert outcome.ok, outcome.text
    assert (outcome.created, outcome.skipped) == (1, 2)
    assert totals(tx)["import_batch"] == batches + 1
    with tx() as s:
        batch = s.exec(select(ImportBatch).order_by(col(ImportBatch.id).desc())).first()
    assert (batch.rows, batch.created, batch.skipped) == (3, 1, 2)


def test_the_template_imports_once_its_code_names_a_registered_firm(importer, world, tx, tmp_path):
    header, *examples = template_rows()
    assert header == list(EVENT_FIELDS)
    uscc = world.usccs[0]
    rows = [[uscc if cell == examples[0][0] else cell for cell in row] for row in examples]
    path = write_table(tmp_path / "template.csv", header, rows, bom=True)

    outcome = importer(path, by=world.rec)

    assert outcome.ok, outcome.text
    assert outcome.created == len(examples)
    stored = sorted(events(tx), key=lambda e: e.event_type)
    assert [e.event_type for e in stored] == sorted(r[1] for r in examples)
    assert {e.firm_id for e in stored} == {world.firm_ids[uscc]}


def test_the_template_as_it_stands_names_an_unregistered_firm(engine, world, tmp_path):
    path = write_table(tmp_path / "template.csv", template_rows()[0], template_rows()[1:])
    outcome = run_service(engine, path, by=world.rec)
    assert not outcome.ok
    assert all(", 列 uscc: " in line and "未登记" in line for line in outcome.errors)


def test_an_import_is_committed_by_its_caller_only(engine, world, tx, tmp_path):
    """A service flushes and never commits: a caller that rolls back keeps nothing of the import."""
    path = three_rows(world, tmp_path)
    session = new_session(engine, Actor(label=world.rec, source="test", user_id=world.ids[world.rec]))
    try:
        report = import_events(session, path, recorder=get_user(session, world.rec))
        assert report.ok and report.created == 3
        session.rollback()  # the caller changes its mind
    finally:
        session.close()
    assert totals(tx)["credit_event"] == 0
