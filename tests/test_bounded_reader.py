"""Import files that would exhaust a worker (issue 11, failure 3): a zip bomb, a directory that lies, a
cell longer than Excel allows, too many rows, columns or parts, an oversized CSV. Each is refused with a
message naming the limit, changes nothing and never costs the process more than 200 MB."""

from __future__ import annotations

import base64
import io
import random
import re
import struct
import time
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import func, select

from credit.db import session_scope
from credit.models import Actor, CreditEvent, Firm, ImportBatch
from credit.models.announcement import Announcement
from credit.services.firms import import_firms
from credit.services.tabular import DEFAULT_LIMITS, BoundedZipFile, ImportFileError, ReadLimits, read_table
from tests.conftest import csrf_token

SHEET = "xl/worksheets/sheet1.xml"
SHEET_HEAD = (
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>uscc</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row>'
    b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
)
SHEET_TAIL = b"</t></is></c></row></sheetData></worksheet>"
GIB = 1 << 30
MB = 1 << 20


def workbook_parts(rows: list[list[object]]) -> dict[str, bytes]:
    """The parts of a real workbook openpyxl writes, by name."""
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def write_zip(path: Path, members: list[tuple[str, bytes, int, int]]) -> None:
    """A zip file written by hand: (name, raw deflate data, CRC-32, size to declare) per member, so that
    a test can declare any size (zipfile's writer always tells the truth)."""
    out = bytearray()
    directory = bytearray()
    for name, data, crc, declared in members:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), declared, len(encoded), 0)
        out += encoded + data
        directory += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(data),
            declared,
            len(encoded),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        directory += encoded
    start = len(out)
    out += directory
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), start, 0)
    path.write_bytes(bytes(out))


def bomb_members(text_bytes: int, *, declare: int | None = None) -> list[tuple[str, bytes, int, int]]:
    """A workbook whose sheet holds one cell of `text_bytes` repeated bytes. The deflate stream of the
    repeated block is made once and repeated (each block ends in a full flush, so they are identical):
    about 1 KB of file per MiB of sheet, built in a second instead of deflating a GiB."""
    parts = workbook_parts([["uscc", "name"]])
    members = [(name, _deflate(data), zlib.crc32(data), len(data)) for name, data in parts.items() if name != SHEET]
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = [packer.compress(SHEET_HEAD) + packer.flush(zlib.Z_FULL_FLUSH)]
    block = b"A" * MB
    deflated_block = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(SHEET_HEAD)
    for _ in range(text_bytes // MB):
        stream.append(deflated_block)
        crc = zlib.crc32(block, crc)
    stream.append(packer.compress(SHEET_TAIL) + packer.flush())
    crc = zlib.crc32(SHEET_TAIL, crc)
    size = len(SHEET_HEAD) + (text_bytes // MB) * MB + len(SHEET_TAIL)
    members.append((SHEET, b"".join(stream), crc, size if declare is None else declare))
    return members


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """About 1 MB of XLSX whose sheet XML inflates to more than 1 GiB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.xlsx"
    write_zip(path, bomb_members(GIB + 16 * MB))
    return path


def _status(key: str) -> int:
    match = re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    assert match, key
    return int(match.group(1)) * 1024


@contextmanager
def peak_memory_growth() -> Iterator[dict[str, int]]:
    """The growth of this process's peak RSS over the block: the peak (VmHWM) is reset first by writing
    5 to /proc/self/clear_refs, so an earlier test's peak cannot hide this one's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("needs Linux /proc/self/clear_refs to reset the peak RSS")
    base = _status("VmRSS")
    seen: dict[str, int] = {}
    started = time.monotonic()
    yield seen
    seen["bytes"] = _status("VmHWM") - base
    seen["seconds"] = time.monotonic() - started


def test_the_memory_measure_sees_what_a_block_costs():
    """The measure is not vacuous: 300 MB held inside the block shows as at least that much growth."""
    with peak_memory_growth() as cost:
        block = bytearray(300 * MB)
        block[::4096] = b"x" * len(block[::4096])  # touch every page
        del block
    assert cost["bytes"] >= 290 * MB


def test_the_bomb_is_what_it_claims(bomb):
    assert bomb.stat().st_size < 2 * MB
    with zipfile.ZipFile(bomb) as archive:
        assert archive.getinfo(SHEET).file_size > GIB


def counts(engine) -> dict[str, int]:
    with session_scope(engine, Actor.system("test")) as s:
        return {
            model.__name__: s.exec(select(func.count()).select_from(model)).one()
            for model in (Firm, CreditEvent, ImportBatch, Announcement)
        }


def _upload(client, path: str, data: bytes, name: str):
    return client.post(
        path,
        data={"file": (io.BytesIO(data), name), "csrf_token": csrf_token(client, path)},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    "entry",
    [
        "web /admin/imports",
        "web /admin/announcements",
        "cli import-firms",
        "cli import-events",
        "cli import-announcement",
    ],
)
def test_a_zip_bomb_is_refused_quickly_in_little_memory_and_changes_nothing(entry, bomb, client, auth, runner, engine):
    """Issue 11, failure 3: 1 MB that inflates to 1 GiB took 10.6 s and 2.1 GB in a worker."""
    kind, target = entry.split(" ")
    if kind == "web":
        auth.login_as("recorder")
    data = bomb.read_bytes()
    before = counts(engine)
    with peak_memory_growth() as cost:
        if kind == "web":
            response = _upload(client, target, data, "bomb.xlsx")
            text = response.get_data(as_text=True)
            status = response.status_code
        else:
            result = runner.invoke(args=["credit", target, str(bomb)])
            text, status = result.output, result.exit_code
    assert status in (200, 422) if kind == "web" else status != 0
    assert "Traceback" not in text
    assert "UPLOAD_XLSX_MAX_MEMBER_BYTES" in text  # the message names the limit
    assert "超过单个部件上限" in text
    assert counts(engine) == before
    assert cost["bytes"] < 200 * MB, f"peak RSS grew by {cost['bytes'] / MB:.0f} MB"
    assert cost["seconds"] < 5


def test_a_directory_that_lies_about_sizes_cannot_inflate_the_bomb(tmp_path, session):
    """The same 1 GiB sheet declared as 1 KB: zipfile stops inflating at the declared size, and the file
    is refused as damaged, quickly and in little memory."""
    path = tmp_path / "liar.xlsx"
    write_zip(path, bomb_members(GIB, declare=1000))
    with peak_memory_growth() as cost:
        report = import_firms(session, path)
    assert not report.ok and "已损坏" in str(report.errors[0])
    assert cost["bytes"] < 200 * MB and cost["seconds"] < 5
    assert session.exec(select(func.count()).select_from(Firm)).one() == 0


def _xlsx(tmp_path: Path, rows: list[list[object]], name: str = "f.xlsx") -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    path = tmp_path / name
    book.save(path)
    return path


HEADER = ["uscc", "name", "legal_representative", "address", "region", "industry", "scale"]
ROW = ["914403001922038216", "东莞市甲有限公司", "张三", "东莞市南城街道", "南城街道", "C", "规上"]


def _refusal(source, limits: ReadLimits, columns: tuple[str, ...] = ("uscc", "name")) -> str:
    with pytest.raises(ImportFileError) as caught:
        list(read_table(source, dict.fromkeys(columns, ()), required=("uscc",), limits=limits))
    message = str(caught.value)
    assert "未作任何更改" in message
    return message


def test_a_cell_longer_than_excel_allows_is_refused_while_reading(tmp_path):
    """Incompressible text in one cell of 2 MiB (Excel and openpyxl stop at 32,767 characters; the ratio
    check cannot see it): the parser would hold it whole, so the run between two tags is bounded."""
    noise = base64.b64encode(random.Random(11).randbytes(3 * MB // 2))
    sheet = SHEET_HEAD + noise + SHEET_TAIL
    parts = workbook_parts([["uscc", "name"]])
    parts[SHEET] = sheet
    path = tmp_path / "long-cell.xlsx"
    write_zip(path, [(name, _deflate(data), zlib.crc32(data), len(data)) for name, data in parts.items()])
    assert "UPLOAD_XLSX_MAX_TOKEN_BYTES" in _refusal(path, DEFAULT_LIMITS)
    assert len(noise) > DEFAULT_LIMITS.xlsx_max_token_bytes
    assert "UPLOAD_XLSX_MAX_TOKEN_BYTES" not in _refusal(path, ReadLimits(xlsx_max_token_bytes=4 * MB, xlsx_max_rows=1))


@pytest.mark.parametrize(
    ("limits", "setting"),
    [
        (ReadLimits(xlsx_max_rows=3), "UPLOAD_XLSX_MAX_ROWS"),
        (ReadLimits(xlsx_max_columns=5), "UPLOAD_XLSX_MAX_COLUMNS"),
        (ReadLimits(xlsx_max_members=4), "UPLOAD_XLSX_MAX_MEMBERS"),
        (ReadLimits(xlsx_max_member_bytes=500), "UPLOAD_XLSX_MAX_MEMBER_BYTES"),
        (ReadLimits(xlsx_max_total_bytes=5000), "UPLOAD_XLSX_MAX_TOTAL_BYTES"),
        (ReadLimits(xlsx_max_token_bytes=10), "UPLOAD_XLSX_MAX_TOKEN_BYTES"),
    ],
)
def test_each_xlsx_limit_is_a_setting_named_in_its_message(tmp_path, limits, setting):
    path = _xlsx(tmp_path, [HEADER, *([ROW] * 4)])
    assert list(read_table(path, dict.fromkeys(HEADER, ()), required=("uscc",)))  # fine under the defaults
    assert setting in _refusal(path, limits, tuple(HEADER))


def test_the_ratio_ceiling_refuses_what_compresses_like_a_bomb(tmp_path):
    path = tmp_path / "dense.xlsx"
    write_zip(path, bomb_members(8 * MB))  # well under the size ceilings, but 1000:1
    assert "UPLOAD_XLSX_MAX_RATIO" in _refusal(path, DEFAULT_LIMITS)
    assert "UPLOAD_XLSX_MAX_RATIO" not in _refusal(path, ReadLimits(xlsx_max_ratio=5000, xlsx_max_token_bytes=64))


def test_the_inflated_total_is_counted_while_reading(tmp_path):
    """Counted over every part opened (openpyxl reads some twice), not only from the directory."""
    path = _xlsx(tmp_path, [HEADER, ROW])
    with zipfile.ZipFile(path) as plain:
        total = sum(info.file_size for info in plain.infolist())
    with open(path, "rb") as stream:
        archive = BoundedZipFile(stream, ReadLimits(xlsx_max_total_bytes=total))  # the directory passes
        for name in archive.namelist():
            archive.read(name)
        with pytest.raises(Exception, match="UPLOAD_XLSX_MAX_TOTAL_BYTES"):
            archive.read(SHEET)  # one part more than the ceiling


@pytest.mark.parametrize(
    ("limits", "setting"),
    [(ReadLimits(csv_max_bytes=150), "UPLOAD_CSV_MAX_BYTES"), (ReadLimits(csv_max_rows=3), "UPLOAD_CSV_MAX_ROWS")],
)
def test_csv_ceilings(limits, setting):
    data = ("uscc,name\n" + "914403001922038216,东莞市甲有限公司\n" * 4).encode()
    assert len(list(read_table(data, {"uscc": (), "name": ()}, required=("uscc",)))) == 4
    assert setting in _refusal(data, limits)


def test_the_settings_reach_the_web_upload(app, client, auth, engine):
    """UPLOAD_XLSX_MAX_ROWS set in the app's configuration refuses a file the default would take."""
    app.config["UPLOAD_XLSX_MAX_ROWS"] = 2
    auth.login_as("recorder")
    rows = [["uscc", "event_type", "occurred_on", "document_no", "authority"]] + [
        ["914403001922038216", "spot_check_pass", "2026-01-10", f"抽-{i}", "东莞市市场监督管理局"] for i in range(3)
    ]
    buffer = io.BytesIO()
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(buffer)
    before = counts(engine)
    response = _upload(client, "/admin/imports", buffer.getvalue(), "events.xlsx")
    assert response.status_code == 422
    assert "UPLOAD_XLSX_MAX_ROWS" in response.get_data(as_text=True)
    assert counts(engine) == before
