"""The one writer of every CSV and XLSX the system hands out (exports, downloads, templates): formula-safe.

A spreadsheet runs a cell that begins with = + - @ (and, in some, TAB, CR or LF; and the full-width
＝＋－＠ that an IME types) as a formula: `=HYPERLINK("http://x","y")` in a firm's name would become a link
in a checker's Excel (OWASP "CSV Injection"). Every cell passes through `safe_text`:

* text that begins with one of those characters gets a leading apostrophe in CSV (OWASP's advice: the
  spreadsheet shows the text, never runs it) and, in XLSX, is a text cell with Excel's quote prefix (the
  same effect, the apostrophe not part of the value);
* numbers stay numbers: an int, float or Decimal is written as a number, and so is text that is wholly a
  decimal number (`-1250.50`, `+3`), which no spreadsheet can run — a negative amount is never mangled;
* everything else is written as it is; dates as ISO `YYYY-MM-DD`.

No session, no Flask: `credit.web` and `credit.services.publications` both write through it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# OWASP CSV Injection: = + - @ TAB CR, with LF and the full-width forms a Chinese IME produces.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv"


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet could read this text as a formula (a plain decimal number cannot)."""
    return text.startswith(FORMULA_TRIGGERS) and _PLAIN_NUMBER.fullmatch(text) is None


def safe_text(value: Any) -> Any:
    """The value of one CSV cell: numbers as numbers, dates as ISO text, formula-like text quoted."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if is_formula_like(text) else text


def csv_bytes(header: Sequence[Any] | None, rows: Iterable[Sequence[Any]], *, bom: bool = True) -> bytes:
    """A whole CSV file: UTF-8 (with a byte-order mark, so Excel reads the Chinese), CRLF line ends,
    every cell through `safe_text`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header is not None:
        writer.writerow([safe_text(v) for v in header])
    for row in rows:
        writer.writerow([safe_text(v) for v in row])
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def xlsx_cell(sheet: Any, value: Any, *, text: bool = False) -> Any:
    """One cell for a write-only openpyxl sheet: numbers stay numbers; formula-like text, and any value
    when `text` (a code that must never become a number, such as a USCC), is a text cell — with Excel's
    quote prefix when it looks like a formula. openpyxl would otherwise store `=…` as a formula."""
    from openpyxl.cell import WriteOnlyCell

    if value is None:
        return None
    if isinstance(value, bool | int | float | Decimal) and not text:
        return value
    if isinstance(value, datetime | date):
        value = value.isoformat()
    value = str(value)
    formula_like = is_formula_like(value)
    if not (formula_like or text):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    if text:
        cell.number_format = "@"
    if formula_like:
        cell.quotePrefix = True
    return cell


def xlsx_bytes(
    sheets: Iterable[tuple[str, Sequence[Any] | None, Iterable[Sequence[Any]]]],
    *,
    text_columns: frozenset[int] = frozenset(),
) -> bytes:
    """A workbook of (title, header, rows) sheets, written row by row in openpyxl's write-only mode (flat
    memory); the columns in `text_columns` (0-based) are text cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import Cell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title)
        if header is not None:
            cells = []
            for value in header:
                cell = xlsx_cell(sheet, value, text=True)
                if not isinstance(cell, Cell):
                    cell = WriteOnlyCell(sheet, value=cell)
                cell.font = bold
                cells.append(cell)
            sheet.append(cells)
        for row in rows:
            sheet.append([xlsx_cell(sheet, v, text=i in text_columns) for i, v in enumerate(row)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
