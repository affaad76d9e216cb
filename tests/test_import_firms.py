"""Importing the firm register from CSV / XLSX (SPEC §2 Firm, §4 import files and `import-firms`).

Every scenario runs on a real database with real files in tmp_path, through the service function
`import_firms` and, where the contract is the command line, through `flask credit import-firms`."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from openpyxl import Workbook
from sqlmodel import func, select

from credit.db import session_scope
from credit.demo_data import generate_firms
from credit.models import Actor, AuditEntry, Firm
from credit.models.firm import FIRM_FIELDS
from credit.services.firms import FIRM_COLUMNS, ImportReport, import_firms
from credit.services.tabular import RowError
from tests.conftest import SETUP_ENTITY
from tests.factories import firm_row

SPEC_HEADER = list(FIRM_FIELDS)  # uscc,name,legal_representative,address,region,industry,scale
CHINESE = {
    "uscc": "统一社会信用代码",
    "name": "企业名称",
    "legal_representative": "法定代表人",
    "address": "地址",
    "region": "所属镇街",
    "industry": "行业",
    "scale": "规模",
}
CHINESE_HEADER = [CHINESE[f] for f in FIRM_FIELDS]
CHINESE_HEADER_ZHUSUO = [CHINESE[f] if f != "address" else "住所" for f in FIRM_FIELDS]
ALL_DIGIT_USCC = "914403001922038216"  # valid, and all digits: what a spreadsheet turns into a number
SUMMARY_RE = re.compile(r"^(\d+) 行:新增 (\d+),更新 (\d+),未变 (\d+)。$", re.MULTILINE)


# --- files ---------------------------------------------------------------------------------------------


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
        writer.writerows(rows)
        path.write_bytes(("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8"))
    return path


def cells(firm: dict[str, str], fields: list[str] | tuple[str, ...] = FIRM_FIELDS) -> list[str]:
    return [firm[f] for f in fields]


def firm_file(path: Path, firms: list[dict[str, str]], **kw: Any) -> Path:
    """A file with the spec header and one row per firm."""
    return write_table(path, SPEC_HEADER, [cells(f) for f in firms], **kw)


def replace_in_zip(data: bytes, member: str, edit: Callable[[bytes], bytes]) -> bytes:
    """A copy of a zip file with one member's bytes edited (everything else byte for byte)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = zin.read(info.filename)
            zout.writestr(info, edit(body) if info.filename == member else body)
    return out.getvalue()


# --- database ------------------------------------------------------------------------------------------


def counts(engine) -> tuple[int, int]:
    """(firms, audit entries) as committed."""
    with session_scope(engine, Actor.system("test")) as s:
        return (
            s.exec(select(func.count()).select_from(Firm)).one(),
            s.exec(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity != SETUP_ENTITY)).one(),
        )


def register(engine) -> dict[str, dict[str, str]]:
    """Every registered firm, uscc → its fields."""
    with session_scope(engine, Actor.system("test")) as s:
        return {f.uscc: {name: getattr(f, name) for name in FIRM_FIELDS} for f in s.exec(select(Firm))}


def audit(engine, **filters: Any) -> list[AuditEntry]:
    with session_scope(engine, Actor.system("test")) as s:
        query = select(AuditEntry).where(AuditEntry.entity != SETUP_ENTITY).order_by(AuditEntry.id)
        for name, value in filters.items():
            query = query.where(getattr(AuditEntry, name) == value)
        return list(s.exec(query))


def service_import(engine, source: Any, **kw: Any) -> ImportReport:
    """`import_firms` in its own unit of work, committed as the CLI would commit it."""
    with session_scope(engine, Actor(label="system", source="cli")) as s:
        return import_firms(s, source, **kw)


# --- the two entry points, one outcome shape -------------------------------------------------------------


def outcome_of_report(report: ImportReport) -> SimpleNamespace:
    return SimpleNamespace(
        ok=report.ok,
        errors=[str(e) for e in report.errors],
        summary=(report.rows, report.created, report.updated, report.unchanged) if report.ok else None,
        text="\n".join(str(e) for e in report.errors),
    )


def outcome_of_cli(result) -> SimpleNamespace:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    match = SUMMARY_RE.search(result.stdout)
    errors = [line for line in result.stderr.splitlines() if line.startswith(("第 ", "文件"))]
    if result.exit_code != 0:
        assert result.stdout == "", "a failed import prints no summary"
        assert result.stderr.splitlines()[-1].startswith("错误: "), result.stderr
    return SimpleNamespace(
        ok=result.exit_code == 0,
        errors=errors,
        summary=tuple(int(n) for n in match.groups()) if match else None,
        text=result.output,
    )


@pytest.fixture(params=["service", "cli"])
def importer(request, engine, runner) -> Callable[[Path], SimpleNamespace]:
    """Import a file through the service function or through `flask credit import-firms`."""

    def run(path: Path) -> SimpleNamespace:
        if request.param == "service":
            return outcome_of_report(service_import(engine, path))
        return outcome_of_cli(runner.invoke(args=["credit", "import-firms", str(path)]))

    return run


def cli_import(runner, path: Path):
    return runner.invoke(args=["credit", "import-firms", str(path)])


# --- formats and headers -------------------------------------------------------------------------------

HEADER_ORDER_SHUFFLED = ["scale", "name", "region", "uscc", "address", "industry", "legal_representative"]


@pytest.mark.parametrize(
    ("suffix", "bom", "header", "fields"),
    [
        pytest.param(".csv", False, SPEC_HEADER, FIRM_FIELDS, id="csv-utf8"),
        pytest.param(".csv", True, SPEC_HEADER, FIRM_FIELDS, id="csv-utf8-bom"),
        pytest.param(".xlsx", False, SPEC_HEADER, FIRM_FIELDS, id="xlsx"),
        pytest.param(".csv", False, CHINESE_HEADER, FIRM_FIELDS, id="csv-chinese-地址"),
        pytest.param(".csv", True, CHINESE_HEADER_ZHUSUO, FIRM_FIELDS, id="csv-bom-chinese-住所"),
        pytest.param(".xlsx", False, CHINESE_HEADER, FIRM_FIELDS, id="xlsx-chinese-地址"),
        pytest.param(".xlsx", False, CHINESE_HEADER_ZHUSUO, FIRM_FIELDS, id="xlsx-chinese-住所"),
        pytest.param(".csv", False, HEADER_ORDER_SHUFFLED, HEADER_ORDER_SHUFFLED, id="csv-other-order"),
        pytest.param(
            ".xlsx",
            False,
            [CHINESE[f] for f in HEADER_ORDER_SHUFFLED],
            HEADER_ORDER_SHUFFLED,
            id="xlsx-chinese-other-order",
        ),
        pytest.param(".csv", False, [f.upper() for f in SPEC_HEADER], FIRM_FIELDS, id="csv-upper-case-header"),
        pytest.param(
            ".csv",
            False,
            [f"  {CHINESE[f]} " for f in FIRM_FIELDS],
            FIRM_FIELDS,
            id="csv-padded-header",
        ),
    ],
)
def test_imports_every_accepted_layout(importer, engine, tmp_path, suffix, bom, header, fields):
    firms = [firm_row(), firm_row(), firm_row(uscc=ALL_DIGIT_USCC)]
    path = write_table(tmp_path / f"firms{suffix}", header, [cells(f, fields) for f in firms], bom=bom)

    outcome = importer(path)

    assert outcome.ok, outcome.text
    assert outcome.summary == (3, 3, 0, 0)
    assert register(engine) == {f["uscc"]: {k: f[k] for k in FIRM_FIELDS} for f in firms}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_optional_columns_may_be_left_out(importer, engine, tmp_path, suffix):
    required = ["uscc", "name", "region", "industry", "scale"]
    firm = firm_row()
    path = write_table(tmp_path / f"firms{suffix}", required, [cells(firm, required)])

    outcome = importer(path)

    assert outcome.ok, outcome.text
    assert register(engine)[firm["uscc"]] == {**firm, "legal_representative": "", "address": ""}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_header_only_file_imports_nothing(importer, engine, tmp_path, suffix):
    outcome = importer(write_table(tmp_path / f"firms{suffix}", SPEC_HEADER, []))

    assert outcome.ok, outcome.text
    assert outcome.summary == (0, 0, 0, 0)
    assert counts(engine) == (0, 0)


def test_cells_are_trimmed_and_inner_whitespace_collapsed(engine, tmp_path):
    firm = firm_row()
    padded = {**firm, "uscc": f"  {firm['uscc']} ", "name": f" {firm['name']}  ", "industry": f" {firm['industry']} "}
    padded["address"] = "东莞市  某路   1号"
    report = service_import(engine, firm_file(tmp_path / "firms.csv", [padded]))

    assert report.ok, report.errors
    assert register(engine)[firm["uscc"]] == {**firm, "address": "东莞市 某路 1号"}


def test_blank_rows_are_skipped_but_keep_spreadsheet_numbering_in_csv(importer, engine, tmp_path):
    good = [firm_row(), firm_row()]
    bad = firm_row(region="火星")
    path = tmp_path / "firms.csv"
    lines = [
        ",".join(SPEC_HEADER),
        "",  # row 2: an empty line
        ",".join(cells(good[0])),  # row 3
        ",,,,,,",  # row 4: only separators
        " , ,  , , , , ",  # row 5: only blanks
        ",".join(cells(good[1])),  # row 6
        ",".join(cells(bad)),  # row 7
        "",
        "",
    ]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    outcome = importer(path)

    assert not outcome.ok
    assert outcome.errors == ["第 7 行, 列 region: 所属镇街「火星」不在本市区划名录中"]

    path.write_text("\r\n".join(lines[:-3]) + "\r\n", encoding="utf-8")
    outcome = importer(path)
    assert outcome.ok, outcome.text
    assert outcome.summary == (2, 2, 0, 0)
    assert set(register(engine)) == {f["uscc"] for f in good}


def test_blank_rows_are_skipped_but_keep_spreadsheet_numbering_in_xlsx(importer, engine, tmp_path):
    good = [firm_row(), firm_row()]
    rows: list[list[Any]] = [
        [],  # row 2
        cells(good[0]),  # row 3
        [None] * 7,  # row 4
        [""] * 7,  # row 5
        cells(good[1]),  # row 6
        cells(firm_row(scale="中型")),  # row 7
        [],
        [None, None],
    ]
    outcome = importer(write_table(tmp_path / "firms.xlsx", SPEC_HEADER, rows))

    assert not outcome.ok
    assert outcome.errors == ["第 7 行, 列 scale: 企业规模 '中型' 无效:只能为 规上、规下(规模以上 / 规模以下)"]
    assert counts(engine) == (0, 0)

    del rows[5]
    outcome = importer(write_table(tmp_path / "firms.xlsx", SPEC_HEADER, rows))
    assert outcome.ok, outcome.text
    assert outcome.summary == (2, 2, 0, 0)


# --- numbers in XLSX cells -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(int(ALL_DIGIT_USCC), id="int-cell"),  # openpyxl, like Excel, stores it as a double
        pytest.param(9.14403001922038e17, id="excel-15-digit-double"),  # what Excel keeps of the typed code
    ],
)
def test_uscc_in_a_number_cell_that_lost_digits_is_reported_not_corrupted(importer, engine, tmp_path, value):
    firms = [firm_row(), firm_row(), firm_row()]
    rows: list[list[Any]] = [cells(f) for f in firms]
    rows[1][0] = value  # row 3
    path = write_table(tmp_path / "firms.xlsx", SPEC_HEADER, rows)

    outcome = importer(path)

    assert not outcome.ok
    assert len(outcome.errors) == 1
    assert outcome.errors[0].startswith("第 3 行, 列 uscc: 数字单元格 9.14403001922038E+17 超过 15 位有效数字")
    assert "文本格式" in outcome.errors[0]
    assert counts(engine) == (0, 0)


def test_uscc_stored_as_an_exact_integer_survives(importer, engine, tmp_path):
    """A writer that keeps every digit (`<v>914403001922038216</v>`) is read digit for digit."""
    firm = firm_row(uscc=ALL_DIGIT_USCC)
    row: list[Any] = cells(firm)
    row[0] = 123456789  # placeholder number cell, swapped for the exact integer in the sheet XML below
    data = write_table(tmp_path / "tmp.xlsx", SPEC_HEADER, [row]).read_bytes()
    data = replace_in_zip(
        data,
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(b"<v>123456789</v>", f"<v>{ALL_DIGIT_USCC}</v>".encode()),
    )
    assert f"<v>{ALL_DIGIT_USCC}</v>".encode() in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    path = tmp_path / "firms.xlsx"
    path.write_bytes(data)

    outcome = importer(path)

    assert outcome.ok, outcome.text
    assert register(engine) == {ALL_DIGIT_USCC: firm}


def test_short_numbers_in_xlsx_cells_are_read_as_typed(engine, tmp_path):
    firm = firm_row(legal_representative="12345")
    row: list[Any] = cells(firm)
    row[2] = 12345  # an int cell
    row[3] = 8.0  # a float cell holding an integer: no ".0"
    report = service_import(engine, write_table(tmp_path / "firms.xlsx", SPEC_HEADER, [row]))

    assert report.ok, report.errors
    assert register(engine)[firm["uscc"]] == {**firm, "address": "8"}


def test_lost_digits_are_reported_with_every_other_bad_row(engine, tmp_path):
    rows: list[list[Any]] = [cells(firm_row()) for _ in range(4)]
    rows[0][0] = float(ALL_DIGIT_USCC)  # row 2
    rows[1][4] = "火星"  # row 3
    rows[2][0] = 9.14403001922038e17  # row 4
    report = service_import(engine, write_table(tmp_path / "firms.xlsx", SPEC_HEADER, rows))

    assert [(e.row, e.column) for e in report.errors] == [(2, "uscc"), (3, "region"), (4, "uscc")]
    assert report.rows == 4
    assert counts(engine) == (0, 0)


# --- the "done when": one bad USCC changes nothing; fixed, it imports; again, it adds nothing ------


def test_one_bad_uscc_changes_nothing_then_fixed_file_imports_once(runner, engine, tmp_path):
    present = firm_row()
    assert service_import(engine, firm_file(tmp_path / "present.csv", [present])).ok
    before = counts(engine)
    assert before == (1, 1)

    firms = [firm_row(), firm_row(), firm_row(), {**present, "address": "东莞市某新址1号"}]
    good_uscc = firms[1]["uscc"]
    firms[1] = {**firms[1], "uscc": good_uscc[:17] + ("0" if good_uscc[17] != "0" else "1")}  # row 3
    path = firm_file(tmp_path / "firms.csv", firms)

    result = cli_import(runner, path)

    assert result.exit_code != 0
    lines = result.stderr.splitlines()
    assert lines[-1] == "错误: firms.csv: 1 处错误,未导入任何数据。"
    [reason] = [line for line in lines if line.startswith("第 ")]
    assert reason.startswith("第 3 行, 列 uscc: 统一社会信用代码校验码错误:第18位应为 ")
    assert "校验码" in reason
    assert result.stdout == ""
    assert counts(engine) == before
    assert register(engine) == {present["uscc"]: present}, "the good rows were not written either"

    firms[1] = {**firms[1], "uscc": good_uscc}
    firm_file(path, firms)
    result = cli_import(runner, path)

    assert result.exit_code == 0, result.output
    assert result.stdout == "4 行:新增 3,更新 1,未变 0。\n"
    assert counts(engine) == (4, 1 + 3 + 1)  # 3 creates and 1 update
    after_first = counts(engine)
    entries = audit(engine)

    result = cli_import(runner, path)

    assert result.exit_code == 0, result.output
    assert result.stdout == "4 行:新增 0,更新 0,未变 4。\n"
    assert counts(engine) == after_first
    assert audit(engine) == entries, "unchanged rows write no audit entry"


def test_reimporting_the_same_file_adds_nothing(importer, engine, tmp_path):
    firms = [firm_row() for _ in range(5)]
    path = firm_file(tmp_path / "firms.xlsx", firms)

    first = importer(path)
    assert first.ok, first.text
    assert first.summary == (5, 5, 0, 0)
    state = counts(engine), register(engine)

    again = importer(path)

    assert again.ok, again.text
    assert again.summary == (5, 0, 0, 5)
    assert (counts(engine), register(engine)) == state


# --- every bad row is reported ---------------------------------------------------------------------------

# (bad USCC, the word its message must carry: the rule that failed); all derived from a valid code.
BAD_USCCS = [
    pytest.param("91440300192203821", "长度", id="length"),
    pytest.param("", "不能为空", id="length-empty"),
    pytest.param("91440300192203821I", "非法字符", id="charset-forbidden-letter"),
    pytest.param("91310110666007217t", "非法字符", id="charset-lower-case"),
    pytest.param("９14403001922038216", "非法字符", id="charset-full-width"),
    pytest.param("91A403001922038216", "行政区划码", id="division"),
    pytest.param("914403001922038226", "主体标识码校验位", id="org-check"),
    pytest.param("914403001922038217", "校验码", id="check-char"),
]


@pytest.mark.parametrize(("uscc", "rule"), BAD_USCCS)
def test_each_uscc_rule_is_named_with_row_and_column(importer, engine, tmp_path, uscc, rule):
    firms = [firm_row(), firm_row(uscc=uscc), firm_row()]
    outcome = importer(firm_file(tmp_path / "firms.csv", firms))

    assert not outcome.ok
    assert len(outcome.errors) == 1
    assert outcome.errors[0].startswith("第 3 行, 列 uscc: 统一社会信用代码")
    assert rule in outcome.errors[0]
    assert counts(engine) == (0, 0)


def bad_rows_file(path: Path) -> tuple[Path, list[tuple[int, str, str]]]:
    """A file with many kinds of bad rows among good ones, and the (row, column, words) each must report."""
    first = firm_row()
    rows = [
        first,  # 2
        firm_row(uscc="91440300192203821"),  # 3
        firm_row(uscc="91440300192203821I"),  # 4
        firm_row(uscc="91A403001922038216"),  # 5
        firm_row(uscc="914403001922038226"),  # 6
        firm_row(uscc="914403001922038217"),  # 7
        firm_row(name=""),  # 8
        firm_row(region="火星镇"),  # 9
        firm_row(industry="C5"),  # 10
        firm_row(industry="F39"),  # 11
        firm_row(industry="U"),  # 12
        firm_row(scale="大型"),  # 13
        firm_row(),  # 14: good
        {**firm_row(), "uscc": first["uscc"]},  # 15: repeats row 2
        firm_row(name="", region="", industry="c", scale=""),  # 16: four bad cells in one row
        firm_row(),  # 17: good
    ]
    expected = [
        (3, "uscc", "长度"),
        (4, "uscc", "非法字符"),
        (5, "uscc", "行政区划码"),
        (6, "uscc", "主体标识码校验位"),
        (7, "uscc", "校验码"),
        (8, "name", "不能为空"),
        (9, "region", "火星镇"),
        (10, "industry", "'C5'"),
        (11, "industry", "不属于门类 F"),
        (12, "industry", "门类 'U' 不存在"),
        (13, "scale", "'大型'"),
        (15, "uscc", "与第 2 行的统一社会信用代码重复"),
        (16, "name", "不能为空"),
        (16, "region", "不在本市区划名录中"),
        (16, "industry", "必须大写"),
        (16, "scale", "无效"),
    ]
    return firm_file(path, rows), expected


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_every_bad_row_is_reported_with_row_and_column(importer, engine, tmp_path, suffix):
    present = firm_row()
    assert service_import(engine, firm_file(tmp_path / "present.csv", [present])).ok
    before = counts(engine), register(engine)
    path, expected = bad_rows_file(tmp_path / f"firms{suffix}")

    outcome = importer(path)

    assert not outcome.ok
    assert len(outcome.errors) == len(expected), outcome.text
    for line, (row, column, words) in zip(outcome.errors, expected, strict=True):
        assert line.startswith(f"第 {row} 行, 列 {column}: "), line
        assert words in line, line
    assert (counts(engine), register(engine)) == before


def test_every_bad_row_through_the_cli_counts_them(runner, engine, tmp_path):
    path, expected = bad_rows_file(tmp_path / "firms.csv")

    result = cli_import(runner, path)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == f"错误: firms.csv: {len(expected)} 处错误,未导入任何数据。"
    assert counts(engine) == (0, 0)


def test_report_carries_structured_errors(engine, tmp_path):
    path, expected = bad_rows_file(tmp_path / "firms.csv")

    report = service_import(engine, path)

    assert not report.ok
    assert report.rows == 16
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert [(e.row, e.column) for e in report.errors] == [(row, column) for row, column, _ in expected]
    assert all(isinstance(e, RowError) and e.reason for e in report.errors)


def test_duplicate_uscc_of_a_registered_firm_is_still_a_bad_row(engine, tmp_path):
    present = firm_row()
    assert service_import(engine, firm_file(tmp_path / "present.csv", [present])).ok
    path = firm_file(tmp_path / "firms.csv", [present, firm_row(), {**present, "name": "东莞市另一个名称有限公司"}])

    report = service_import(engine, path)

    assert [str(e) for e in report.errors] == ["第 4 行, 列 uscc: 与第 2 行的统一社会信用代码重复"]
    assert register(engine) == {present["uscc"]: present}


def test_too_long_values_are_reported_in_chinese(engine, tmp_path):
    firm = firm_row(legal_representative="张" * 51, address="东" * 301)
    report = service_import(engine, firm_file(tmp_path / "firms.csv", [firm]))

    assert [str(e) for e in report.errors] == [
        "第 2 行, 列 legal_representative: 最多 50 个字符,实为 51 个",
        "第 2 行, 列 address: 最多 300 个字符,实为 301 个",
    ]


# --- file-level errors ---------------------------------------------------------------------------------


def gbk_csv(tmp_path: Path) -> Path:
    path = tmp_path / "firms.csv"
    text = ",".join(CHINESE_HEADER) + "\r\n" + ",".join(cells(firm_row())) + "\r\n"
    path.write_bytes(text.encode("gbk"))
    return path


def xlsx_bytes(tmp_path: Path) -> bytes:
    return firm_file(tmp_path / "source.xlsx", [firm_row() for _ in range(30)]).read_bytes()


def damaged_sheet(tmp_path: Path) -> Path:
    """A sound zip whose sheet XML is cut off half-way: only reading the rows finds the damage."""
    data = replace_in_zip(xlsx_bytes(tmp_path), "xl/worksheets/sheet1.xml", lambda xml: xml[: len(xml) // 2])
    path = tmp_path / "firms.xlsx"
    path.write_bytes(data)
    return path


def plain_zip(tmp_path: Path) -> Path:
    path = tmp_path / "firms.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "not a workbook")
    return path


def write_bytes(name: str, data: bytes | Callable[[Path], bytes]) -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(data(tmp_path) if callable(data) else data)
        return path

    return make


def header_file(header: list[str], name: str = "firms.csv") -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        firm = firm_row()
        values = [firm.get(FIRM_COLUMNS_BY_TITLE.get(title, ""), "x") for title in header]
        return write_table(tmp_path / name, header, [values])

    return make


FIRM_COLUMNS_BY_TITLE = {alias: name for name, aliases in FIRM_COLUMNS.items() for alias in (name, *aliases)}

FILE_ERRORS = [
    pytest.param(
        header_file([f for f in SPEC_HEADER if f != "region"]),
        ["第 1 行, 列 region: 缺少必需的列"],
        id="missing-required-column",
    ),
    pytest.param(
        header_file([*CHINESE_HEADER[:4], *CHINESE_HEADER[5:]], "firms.xlsx"),
        ["第 1 行, 列 region: 缺少必需的列"],
        id="missing-required-column-xlsx",
    ),
    pytest.param(
        header_file([*SPEC_HEADER, "电话"]),
        ["第 1 行, 列 电话: 未知列名"],
        id="unknown-column",
    ),
    pytest.param(
        header_file([*SPEC_HEADER, "住所"]),
        ["第 1 行, 列 住所: 列 address 重复"],
        id="duplicate-column-alias",
    ),
    pytest.param(
        header_file([*SPEC_HEADER, "uscc"], "firms.xlsx"),
        ["第 1 行, 列 uscc: 列 uscc 重复"],
        id="duplicate-column-xlsx",
    ),
    pytest.param(
        header_file(["uscc", "name", "电话", "industry"]),
        [
            "第 1 行, 列 电话: 未知列名",
            "第 1 行, 列 region: 缺少必需的列",
            "第 1 行, 列 scale: 缺少必需的列",
        ],
        id="several-header-problems-at-once",
    ),
    pytest.param(write_bytes("firms.csv", b""), ["第 1 行: 缺少表头行"], id="empty-csv"),
    pytest.param(write_bytes("firms.csv", b"\xef\xbb\xbf\r\n\r\n"), ["第 1 行: 缺少表头行"], id="blank-csv"),
    pytest.param(
        write_bytes("firms.xlsx", lambda tmp: write_table(tmp / "e.xlsx", [], []).read_bytes()),
        ["第 1 行: 缺少表头行"],
        id="empty-xlsx-sheet",
    ),
    pytest.param(gbk_csv, ["文件: 不是 UTF-8 编码的 CSV 文件"], id="gbk-csv"),
    pytest.param(
        write_bytes("firms.xlsx", ",".join(SPEC_HEADER).encode()),
        ["文件: 文件扩展名为 .xlsx,但内容不是 Excel 工作簿"],
        id="xlsx-name-csv-content",
    ),
    pytest.param(write_bytes("firms.xlsx", b""), ["文件: 文件扩展名为 .xlsx,但内容不是 Excel 工作簿"], id="empty-xlsx"),
    pytest.param(
        write_bytes("firms.xlsx", lambda tmp: xlsx_bytes(tmp)[:1000]),
        ["文件: 无法读取 XLSX 文件"],
        id="truncated-zip",
    ),
    pytest.param(
        write_bytes("firms.csv", lambda tmp: xlsx_bytes(tmp)[:1000]),
        ["文件: 无法读取 XLSX 文件"],
        id="truncated-zip-named-csv",
    ),
    pytest.param(damaged_sheet, ["文件: 无法读取 XLSX 文件"], id="damaged-sheet-xml"),
    pytest.param(plain_zip, ["文件: 无法读取 XLSX 文件"], id="zip-without-workbook"),
    pytest.param(
        write_bytes("firms.csv", (",".join(SPEC_HEADER) + '\r\n"' + "x" * 200_000 + '"\r\n').encode()),
        ["文件: CSV 格式错误"],
        id="csv-field-beyond-limit",
    ),
]


@pytest.mark.parametrize(("make", "reasons"), FILE_ERRORS)
def test_file_level_errors_give_one_line_reasons_and_change_nothing(importer, engine, tmp_path, make, reasons):
    present = firm_row()
    assert service_import(engine, firm_file(tmp_path / "present.csv", [present])).ok
    before = counts(engine), register(engine)

    outcome = importer(make(tmp_path))

    assert not outcome.ok
    assert len(outcome.errors) == len(reasons), outcome.text
    for line, reason in zip(outcome.errors, reasons, strict=True):
        assert line.startswith(reason), line
        assert "\n" not in line
    assert (counts(engine), register(engine)) == before


def test_file_level_error_on_the_command_line(runner, engine, tmp_path):
    result = cli_import(runner, gbk_csv(tmp_path))

    assert result.exit_code == 1
    assert result.stdout == ""
    reasons = [line for line in result.stderr.splitlines() if line.startswith(("文件", "错误"))]
    assert len(reasons) == 2
    assert re.fullmatch(r"文件: 不是 UTF-8 编码的 CSV 文件\(字节 \d+\)", reasons[0])
    assert reasons[1] == "错误: firms.csv: 1 处错误,未导入任何数据。"
    assert counts(engine) == (0, 0)


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_cli_refuses_a_path_that_is_not_a_file(runner, engine, tmp_path, kind):
    path = tmp_path / "nowhere.csv"
    if kind == "directory":
        path.mkdir()

    result = runner.invoke(args=["credit", "import-firms", str(path)])

    assert result.exit_code != 0
    assert "nowhere.csv" in result.output
    assert "Traceback" not in result.output
    assert counts(engine) == (0, 0)


def test_cli_requires_a_file_argument(runner):
    result = runner.invoke(args=["credit", "import-firms"])

    assert result.exit_code != 0


# --- updates and the audit log -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_changed_address_updates_that_firm_with_an_audited_before_and_after(runner, engine, tmp_path, suffix):
    firms = [firm_row() for _ in range(3)]
    path = firm_file(tmp_path / f"firms{suffix}", firms)
    assert cli_import(runner, path).exit_code == 0
    entries_before = audit(engine)
    old_address = firms[1]["address"]
    firms[1] = {**firms[1], "address": "东莞市南城街道新地址路8号"}
    firm_file(path, firms)

    result = cli_import(runner, path)

    assert result.exit_code == 0, result.output
    assert result.stdout == "3 行:新增 0,更新 1,未变 2。\n"
    assert register(engine) == {f["uscc"]: f for f in firms}
    new_entries = audit(engine)[len(entries_before) :]
    assert [(e.action, e.entity, e.actor, e.source) for e in new_entries] == [("update", "firm", "system", "cli")]
    [entry] = new_entries
    with session_scope(engine, Actor.system("test")) as s:
        firm = s.exec(select(Firm).where(Firm.uscc == firms[1]["uscc"])).one()
        assert entry.entity_id == str(firm.id)
    assert entry.before is not None
    assert entry.after is not None
    assert entry.before["address"] == old_address
    assert entry.after["address"] == "东莞市南城街道新地址路8号"
    assert set(entry.after) == {"address", "updated_at"}, "only what changed is logged"
    assert entry.after["updated_at"] != entry.before["updated_at"]


def test_update_through_the_service_reports_each_kind(engine, tmp_path):
    firms = [firm_row() for _ in range(4)]
    assert service_import(engine, firm_file(tmp_path / "a.csv", firms[:3])).ok
    changed = {**firms[0], "scale": "规上" if firms[0]["scale"] == "规下" else "规下", "industry": "C"}

    report = service_import(engine, firm_file(tmp_path / "b.csv", [changed, firms[1], firms[2], firms[3]]))

    assert report.ok, report.errors
    assert (report.rows, report.created, report.updated, report.unchanged) == (4, 1, 1, 2)
    assert register(engine)[changed["uscc"]] == changed


def test_each_imported_firm_leaves_a_create_entry_by_the_system_through_the_cli(runner, engine, tmp_path):
    firms = [firm_row() for _ in range(3)]

    result = cli_import(runner, firm_file(tmp_path / "firms.csv", firms))

    assert result.exit_code == 0, result.output
    entries = audit(engine)
    assert len(entries) == len(firms), "one entry per firm, nothing else"
    assert {(e.action, e.entity, e.actor, e.source, e.actor_user_id) for e in entries} == {
        ("create", "firm", "system", "cli", None)
    }
    logged = {e.after["uscc"]: e.after for e in entries if e.after}
    assert set(logged) == {f["uscc"] for f in firms}
    for firm in firms:
        assert {k: logged[firm["uscc"]][k] for k in FIRM_FIELDS} == firm


def test_bad_file_through_the_cli_leaves_no_audit_entry(runner, engine, tmp_path):
    firms = [firm_row(), firm_row(industry="Z")]

    result = cli_import(runner, firm_file(tmp_path / "firms.csv", firms))

    assert result.exit_code == 1
    assert audit(engine) == []
    assert counts(engine) == (0, 0)


# --- service entry points ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize("form", ["bytes", "stream"])
def test_service_reads_bytes_and_streams_named_by_filename(engine, tmp_path, suffix, form):
    firms = [firm_row(), firm_row()]
    data = firm_file(tmp_path / f"firms{suffix}", firms).read_bytes()
    source = data if form == "bytes" else io.BytesIO(data)

    report = service_import(engine, source, filename=f"upload{suffix}")

    assert report.ok, report.errors
    assert (report.rows, report.created) == (2, 2)
    assert set(register(engine)) == {f["uscc"] for f in firms}


def test_service_progress_counts_every_valid_row(engine, tmp_path):
    firms = generate_firms(1001, seed=4242)
    calls: list[int] = []

    report = service_import(engine, firm_file(tmp_path / "firms.csv", firms), progress=calls.append)

    assert report.ok, report.errors[:3]
    assert report.created == 1001
    assert calls == [1000, 1]
    assert counts(engine) == (1001, 1001)


def test_a_nul_byte_in_a_firm_row_is_refused_and_nothing_changes(session):
    """Issue 11 #5: NUL bytes were stored."""
    from pydantic import ValidationError

    from credit.models import FirmCreate

    with pytest.raises(ValidationError, match="控制字符"):
        FirmCreate(uscc="914403001922038216", name="东莞\x00某公司", region="南城街道", industry="C", scale="规上")
