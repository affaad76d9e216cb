"""Reading import files: UTF-8 CSV with a header row, or XLSX with the same header in its first sheet.
Chinese header aliases are accepted. Rows are numbered as a spreadsheet shows them (header = row 1)."""

from __future__ import annotations

import codecs
import csv
import io
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True)
class RowError:
    """One reason a row (or the file, when row is 0) cannot be imported."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row else "文件"
        return f"{where}, 列 {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


class ImportFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, header)."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


# A spreadsheet number cell keeps 15 significant digits: from 10^15 on, its last digits are not what was
# typed (an 18-digit code in a number cell), so such a value is refused rather than imported altered.
_EXACT_LIMIT = 1e15


def _inexact(value: Any) -> bool:
    """Whether a cell holds a number too long to have kept every digit."""
    return isinstance(value, float) and abs(value) >= _EXACT_LIMIT


def _inexact_reason(value: float) -> str:
    return (
        f"数字单元格 {value:.15G} 超过 15 位有效数字,表格已丢失末尾数位;"
        "请将该列设为文本格式后重新录入(如统一社会信用代码)"
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_BLOCK = 1 << 20  # bytes read at a time: files are streamed, never held whole (SPEC §5: 1M-row imports)


def _csv_lines(stream: IO[bytes]) -> Iterator[str]:
    """The text of a UTF-8 byte stream (a BOM allowed), line by line with the line ends kept, decoded
    block by block; a byte that is not UTF-8 stops the file with its offset."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset = 0
    carry = ""
    while True:
        block = stream.read(_BLOCK)
        try:
            text = decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            held = len(decoder.getstate()[0]) if hasattr(decoder, "getstate") else 0
            where = max(offset - held + exc.start, 0)
            raise ImportFileError([RowError(0, "", f"不是 UTF-8 编码的 CSV 文件(字节 {where})")]) from None
        offset += len(block)
        pieces = (carry + text).split("\n")
        carry = pieces.pop()
        for piece in pieces:
            yield piece + "\n"
        if not block:
            if carry:
                yield carry
            return


def _csv_rows(stream: IO[bytes]) -> Iterator[list[str]]:
    reader = csv.reader(_csv_lines(stream))
    try:
        for record in reader:
            yield [c.strip() for c in record]
    except csv.Error as exc:  # e.g. a field beyond the csv module's size limit
        raise ImportFileError([RowError(0, "", f"CSV 格式错误(第 {reader.line_num} 行附近):{exc}")]) from None


def _xlsx_rows(stream: IO[bytes]) -> Iterator[list[Any]]:
    """The cell values of the first sheet, row by row, as openpyxl reads them (not yet text). Read-only
    mode parses the sheet as it goes, so a large workbook is never held as cell objects."""
    from openpyxl import load_workbook

    damaged = ImportFileError([RowError(0, "", "无法读取 XLSX 文件(文件已损坏或不是 Excel 工作簿)")])
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a damaged file
        raise damaged from None
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        while True:
            try:  # read-only mode parses the sheet lazily: damage inside it shows up only here
                values = next(rows, None)
            except Exception:
                raise damaged from None
            if values is None:
                return
            yield list(values)
    finally:
        workbook.close()


def open_source(source: str | Path | IO[bytes] | bytes) -> IO[bytes]:
    """A seekable binary stream over an import source: a path is opened, bytes wrapped, a stream that
    cannot seek spooled to a temporary file (so a file can be read twice without holding it in memory)."""
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, str | Path):
        return open(source, "rb")
    if source.seekable():
        return source
    spool = tempfile.SpooledTemporaryFile(max_size=_BLOCK * 8)  # noqa: SIM115 - returned to the caller
    shutil.copyfileobj(source, spool, _BLOCK)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def _rows_of(stream: IO[bytes], filename: str) -> Iterator[list[Any]]:
    start = stream.tell()
    head = stream.read(4)
    stream.seek(start)
    return _xlsx_rows(stream) if detect_format(filename, head) == "xlsx" else _csv_rows(stream)


def detect_format(filename: str, data: bytes) -> str:
    """'xlsx' or 'csv', by content first (an XLSX is a zip file), then by name."""
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise ImportFileError([RowError(0, "", "文件扩展名为 .xlsx,但内容不是 Excel 工作簿")])
    return "csv"


def read_table(
    source: str | Path | IO[bytes] | bytes,
    columns: dict[str, tuple[str, ...]],
    *,
    required: tuple[str, ...],
    filename: str = "",
    errors: list[RowError] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, {column: text}) for each non-empty data row.

    `columns` maps each canonical column name to its accepted aliases. A missing required column or an
    unknown or repeated header raises ImportFileError before any row is read. A cell that no longer holds
    what was typed (a number of more than 15 digits) is never yielded altered: its row is left out and
    the problem appended to `errors`, or, without `errors`, raised as ImportFileError."""
    if isinstance(source, str | Path):
        filename = filename or str(source)
    stream = open_source(source)
    try:
        yield from _table_rows(_rows_of(stream, filename), columns, required=required, errors=errors)
    finally:
        if stream is not source:
            stream.close()


def _table_rows(
    rows: Iterator[list[Any]],
    columns: dict[str, tuple[str, ...]],
    *,
    required: tuple[str, ...],
    errors: list[RowError] | None,
) -> Iterator[tuple[int, dict[str, str]]]:
    first = next(rows, None)
    header = [_cell(v) for v in first] if first else []
    if not any(header):
        raise ImportFileError([RowError(1, "", "缺少表头行")])
    lookup = {alias.lower(): name for name, aliases in columns.items() for alias in (name, *aliases)}
    positions: dict[str, int] = {}
    problems: list[RowError] = []
    for index, title in enumerate(header):
        if not title:
            continue
        name = lookup.get(title.strip().lower())
        if name is None:
            problems.append(RowError(1, title, f"未知列名;可用列:{', '.join(columns)}"))
        elif name in positions:
            problems.append(RowError(1, title, f"列 {name} 重复"))
        else:
            positions[name] = index
    problems += [RowError(1, name, "缺少必需的列") for name in required if name not in positions]
    if problems:
        raise ImportFileError(problems)
    for number, record in enumerate(rows, start=2):
        lost = [
            RowError(number, name, _inexact_reason(record[index]))
            for name, index in positions.items()
            if index < len(record) and _inexact(record[index])
        ]
        if lost:
            if errors is None:
                raise ImportFileError(lost)
            errors += lost
            continue
        texts = [_cell(v) for v in record]
        if not any(texts):
            continue
        yield number, {name: (texts[index] if index < len(texts) else "") for name, index in positions.items()}


def raw_table(data: bytes, filename: str = "") -> Iterator[tuple[int, list[str], list[RowError]]]:
    """(row number, cell texts, problems) of every row of a CSV or XLSX, the header as row 1, for files
    whose columns are not known in advance (published announcements). A number cell that no longer holds
    what was typed is never passed on altered: its text is "" and a RowError says why."""
    rows = _rows_of(io.BytesIO(data), filename)
    for number, record in enumerate(rows, start=1):
        problems = [
            RowError(number, str(index + 1), _inexact_reason(value))
            for index, value in enumerate(record)
            if _inexact(value)
        ]
        yield number, ["" if _inexact(v) else _cell(v) for v in record], problems
