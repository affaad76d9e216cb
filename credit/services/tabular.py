"""Reading import files: UTF-8 CSV with a header row, or XLSX with the same header in its first sheet.
Chinese header aliases are accepted. Rows are numbered as a spreadsheet shows them (header = row 1)."""

from __future__ import annotations

import csv
import io
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


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError([RowError(0, "", f"不是 UTF-8 编码的 CSV 文件(字节 {exc.start})")]) from None
    for record in csv.reader(io.StringIO(text, newline="")):
        yield [c.strip() for c in record]


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a damaged file
        raise ImportFileError([RowError(0, "", "无法读取 XLSX 文件(文件已损坏或不是 Excel 工作簿)")]) from None
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in values]
    finally:
        workbook.close()


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
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, {column: text}) for each non-empty data row.

    `columns` maps each canonical column name to its accepted aliases. A missing required column or an
    unknown or repeated header raises ImportFileError before any row is read."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str | Path):
        filename = filename or str(source)
        data = Path(source).read_bytes()
    else:
        data = source.read()
    rows = _xlsx_rows(data) if detect_format(filename, data) == "xlsx" else _csv_rows(data)
    header = next(rows, None)
    if not header or not any(header):
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
        if not any(record):
            continue
        yield (
            number,
            {name: (record[index].strip() if index < len(record) else "") for name, index in positions.items()},
        )
