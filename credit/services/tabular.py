"""Reading import files: UTF-8 CSV with a header row, or XLSX with the same header in its first sheet.
Chinese header aliases are accepted. Rows are numbered as a spreadsheet shows them (header = row 1)."""

from __future__ import annotations

import codecs
import csv
import io
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
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


@dataclass(frozen=True)
class ReadLimits:
    """The ceilings an import file must stay under (each one a setting: `UPLOAD_<NAME>` in config.py).

    A zip bomb (1 MB that inflates to GiBs) is refused from the zip's own directory before any XML is
    parsed; a zip whose directory lies is stopped while it inflates. Defaults hold a 1,000,000-row event
    import (SPEC §5) and keep a worker under 200 MB for any upload (docs/security.md)."""

    # XLSX, from the zip directory before opening: members, declared sizes and the compression ratio.
    xlsx_max_members: int = 1000
    xlsx_max_member_bytes: int = 512 * 1024 * 1024
    xlsx_max_total_bytes: int = 1024 * 1024 * 1024
    # Worksheet XML compresses 5-30 times, far from a bomb's 1000; small members (styles) may run higher,
    # so the ratio is judged only for members of more than 1 MiB.
    xlsx_max_ratio: int = 200
    # XLSX, while reading: rows and columns of the first sheet, and the longest run of XML between two
    # tags (a cell holds at most 32,767 characters in Excel: about 100 KB of UTF-8, escaped).
    xlsx_max_rows: int = 1_048_576
    xlsx_max_columns: int = 256
    xlsx_max_token_bytes: int = 1024 * 1024
    # CSV: bytes and data rows.
    csv_max_bytes: int = 512 * 1024 * 1024
    csv_max_rows: int = 2_000_000

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ReadLimits:
        """The limits set in an app's configuration (`UPLOAD_XLSX_MAX_ROWS`…); defaults for the rest."""
        given = {f.name: int(config[key]) for f in fields(cls) if (key := "UPLOAD_" + f.name.upper()) in config}
        return cls(**given)


DEFAULT_LIMITS = ReadLimits()
_RATIO_FLOOR = 1024 * 1024  # members smaller than this are not judged by their compression ratio


def _too_big(reason: str) -> ImportFileError:
    return ImportFileError([RowError(0, "", reason + "；文件未导入，未作任何更改")])


def _mib(size: int) -> str:
    return f"{size / 1048576:,.0f} MiB" if size >= 1048576 else f"{size:,} 字节"


def check_zip_directory(archive: zipfile.ZipFile, limits: ReadLimits) -> None:
    """Refuse an XLSX whose zip directory declares more than the limits allow, before anything inflates."""
    infos = archive.infolist()
    if len(infos) > limits.xlsx_max_members:
        raise _too_big(
            f"XLSX 文件包含 {len(infos)} 个部件，超过上限 {limits.xlsx_max_members}（UPLOAD_XLSX_MAX_MEMBERS）"
        )
    total = 0
    for info in infos:
        if info.file_size > limits.xlsx_max_member_bytes:
            raise _too_big(
                f"XLSX 部件 {info.filename[:80]} 解压后 {_mib(info.file_size)}，超过单个部件上限 "
                f"{_mib(limits.xlsx_max_member_bytes)}（UPLOAD_XLSX_MAX_MEMBER_BYTES）"
            )
        if info.file_size > _RATIO_FLOOR and info.file_size > limits.xlsx_max_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise _too_big(
                f"XLSX 部件 {info.filename[:80]} 的压缩比为 {ratio}:1，超过上限 {limits.xlsx_max_ratio}:1"
                "（UPLOAD_XLSX_MAX_RATIO；疑似压缩炸弹）"
            )
        total += info.file_size
    if total > limits.xlsx_max_total_bytes:
        raise _too_big(
            f"XLSX 文件解压后共 {_mib(total)}，超过上限 {_mib(limits.xlsx_max_total_bytes)}（UPLOAD_XLSX_MAX_TOTAL_BYTES）"
        )


class _LimitExceeded(Exception):  # not a ValueError: openpyxl rewraps those
    """Raised from inside openpyxl's parser when a guard trips; carries the message for the user."""

    def __init__(self, error: ImportFileError):
        self.error = error
        super().__init__(str(error))


class _GuardedMember(io.RawIOBase):
    """A zip member as openpyxl reads it: at most its declared size (capped by the member ceiling) and,
    over every member read, at most the total ceiling; and no run between two XML tags longer than the
    token ceiling (a text node or attribute the parser would hold whole)."""

    def __init__(self, inner: IO[bytes], archive: BoundedZipFile, declared: int):
        self._inner = inner
        self._archive = archive
        self._left = min(declared, archive.limits.xlsx_max_member_bytes)
        self._run = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        self._left -= len(data)
        if self._left < 0:
            raise _LimitExceeded(_too_big("XLSX 部件解压后大于文件目录的声明（文件已被篡改或损坏）"))
        self._archive.count(data)
        limit = self._archive.limits.xlsx_max_token_bytes
        first = min((i for i in (data.find(b"<"), data.find(b">")) if i >= 0), default=-1)
        if first < 0:
            self._run += len(data)
            longest = self._run
        else:
            last = max(data.rfind(b"<"), data.rfind(b">"))
            inside = _longest_run(data[first:last]) if last - first > limit else 0
            longest = max(self._run + first, inside, len(data) - last - 1)
            self._run = len(data) - last - 1
        if longest > limit:
            raise _LimitExceeded(
                _too_big(
                    f"XLSX 中有一段长于 {_mib(limit)} 的单元格文本或标记"
                    "（Excel 单元格最多 32767 个字符；UPLOAD_XLSX_MAX_TOKEN_BYTES）"
                )
            )
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def _longest_run(data: bytes) -> int:
    """The longest stretch of `data` with neither '<' nor '>' (only for blocks longer than the limit)."""
    return max(len(piece) for piece in data.replace(b">", b"<").split(b"<"))


class BoundedZipFile(zipfile.ZipFile):
    """A ZipFile checked against the limits from its directory before any member inflates, and guarded
    while members inflate: a directory that lies about sizes cannot make a reader inflate more."""

    def __init__(self, stream: IO[bytes], limits: ReadLimits):
        super().__init__(stream, "r")
        self.limits = limits
        check_zip_directory(self, limits)
        self.inflated = 0  # over every member opened (openpyxl reads some parts twice)

    def count(self, data: bytes) -> None:
        self.inflated += len(data)
        if self.inflated > self.limits.xlsx_max_total_bytes:
            raise _LimitExceeded(
                _too_big(f"XLSX 文件解压超过 {_mib(self.limits.xlsx_max_total_bytes)}（UPLOAD_XLSX_MAX_TOTAL_BYTES）")
            )

    def open(self, name: Any, mode: str = "r", pwd: bytes | None = None, **kwargs: Any) -> IO[bytes]:  # type: ignore[override]
        inner = super().open(name, mode, pwd, **kwargs)
        if mode != "r":
            return inner
        declared = name.file_size if isinstance(name, zipfile.ZipInfo) else self.getinfo(name).file_size
        guarded = _GuardedMember(inner, self, declared)
        return io.BufferedReader(guarded, buffer_size=64 * 1024)  # type: ignore[return-value]


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


def _csv_lines(stream: IO[bytes], limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[str]:
    """The text of a UTF-8 byte stream (a BOM allowed), line by line with the line ends kept, decoded
    block by block; a byte that is not UTF-8 stops the file with its offset, and so does a file longer
    than the byte ceiling."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset = 0
    carry = ""
    while True:
        block = stream.read(_BLOCK)
        if offset + len(block) > limits.csv_max_bytes:
            raise _too_big(f"CSV 文件超过 {_mib(limits.csv_max_bytes)}(UPLOAD_CSV_MAX_BYTES)")
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


def _csv_rows(stream: IO[bytes], limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[list[str]]:
    reader = csv.reader(_csv_lines(stream, limits))
    count = 0
    try:
        for record in reader:
            count += 1
            if count > limits.csv_max_rows + 1:  # the header is not a data row
                raise _too_big(f"CSV 文件超过 {limits.csv_max_rows:,} 行数据(UPLOAD_CSV_MAX_ROWS)")
            yield [c.strip() for c in record]
    except csv.Error as exc:  # e.g. a field beyond the csv module's size limit
        raise ImportFileError([RowError(0, "", f"CSV 格式错误(第 {reader.line_num} 行附近):{exc}")]) from None


def _xlsx_rows(stream: IO[bytes], limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[list[Any]]:
    """The cell values of the first sheet, row by row, as openpyxl reads them (not yet text). Read-only
    mode parses the sheet as it goes, so a large workbook is never held as cell objects; the zip is
    checked against `limits` before anything inflates and guarded while it does."""
    from openpyxl.reader.excel import ExcelReader

    damaged = ImportFileError([RowError(0, "", "无法读取 XLSX 文件(文件已损坏或不是 Excel 工作簿)")])
    try:
        reader = ExcelReader(stream, read_only=True, data_only=True)
        reader.archive.close()
        # openpyxl opens the zip itself: its archive is replaced by a bounded one before anything is read.
        reader.archive = BoundedZipFile(stream, limits)
        reader.read()
        workbook = reader.wb
    except ImportFileError:
        raise
    except _LimitExceeded as exc:
        raise exc.error from None
    except Exception:  # openpyxl raises many types for a damaged file
        raise damaged from None
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        count = 0
        while True:
            try:  # read-only mode parses the sheet lazily: damage inside it shows up only here
                values = next(rows, None)
            except _LimitExceeded as exc:
                raise exc.error from None
            except Exception:
                raise damaged from None
            if values is None:
                return
            count += 1
            if count > limits.xlsx_max_rows:
                raise _too_big(f"XLSX 工作表超过 {limits.xlsx_max_rows:,} 行(UPLOAD_XLSX_MAX_ROWS)")
            if len(values) > limits.xlsx_max_columns:
                raise _too_big(
                    f"XLSX 工作表第 {count} 行有 {len(values):,} 列,超过上限 {limits.xlsx_max_columns}"
                    "(UPLOAD_XLSX_MAX_COLUMNS)"
                )
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


def _rows_of(stream: IO[bytes], filename: str, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[list[Any]]:
    start = stream.tell()
    head = stream.read(4)
    stream.seek(start)
    if detect_format(filename, head) == "xlsx":
        return _xlsx_rows(stream, limits)
    return _csv_rows(stream, limits)


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
    limits: ReadLimits = DEFAULT_LIMITS,
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
        yield from _table_rows(_rows_of(stream, filename, limits), columns, required=required, errors=errors)
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


def raw_table(
    data: bytes, filename: str = "", limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[tuple[int, list[str], list[RowError]]]:
    """(row number, cell texts, problems) of every row of a CSV or XLSX, the header as row 1, for files
    whose columns are not known in advance (published announcements). A number cell that no longer holds
    what was typed is never passed on altered: its text is "" and a RowError says why."""
    rows = _rows_of(io.BytesIO(data), filename, limits)
    for number, record in enumerate(rows, start=1):
        problems = [
            RowError(number, str(index + 1), _inexact_reason(value))
            for index, value in enumerate(record)
            if _inexact(value)
        ]
        yield number, ["" if _inexact(v) else _cell(v) for v in record], problems
