"""The firm register: add, change and import firms (search: credit.services.firm_search)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pydantic import ValidationError
from sqlmodel import Session, col, select

from credit.models import Firm, FirmCreate, utcnow
from credit.models.firm import FIRM_FIELDS
from credit.services.firm_search import FirmPage, FirmQuery, search_firms  # noqa: F401  - callers import them here
from credit.services.pilot_codes import pilot_code_set
from credit.services.tabular import DEFAULT_LIMITS, ImportFileError, ReadLimits, RowError, read_table

# Import header: the spec's English names plus the Chinese titles regulators use.
FIRM_COLUMNS: dict[str, tuple[str, ...]] = {
    "uscc": ("统一社会信用代码", "信用代码", "社会信用代码"),
    "name": ("企业名称", "名称", "市场主体名称"),
    "legal_representative": ("法定代表人", "法人代表", "负责人"),
    "address": ("地址", "住所", "经营场所"),
    "region": ("所属镇街", "镇街", "区域", "所属区域"),
    "industry": ("行业", "行业代码", "国民经济行业"),
    "scale": ("规模", "企业规模"),
}
REQUIRED_FIRM_COLUMNS = ("uscc", "name", "region", "industry", "scale")


class FirmExists(ValueError):
    """A firm with this USCC is already registered."""


def firm_errors(exc: ValidationError, row: int = 0) -> list[RowError]:
    """Turn a pydantic validation error into one RowError per field."""
    errors = []
    for err in exc.errors():
        column = str(err["loc"][0]) if err["loc"] else ""
        if err["type"] == "string_too_short":  # pydantic's own messages are English
            message = "不能为空" if not err["input"] else f"至少应为 {err['ctx']['min_length']} 个字符"
        elif err["type"] == "string_too_long":
            message = f"最多 {err['ctx']['max_length']} 个字符,实为 {len(err['input'])} 个"
        else:
            message = err["msg"].removeprefix("Value error, ")
        errors.append(RowError(row, column, message))
    return errors


def get_firm(session: Session, uscc: str) -> Firm | None:
    """The registered firm with this USCC, if any."""
    return session.exec(select(Firm).where(Firm.uscc == uscc)).first()


def create_firm(session: Session, data: FirmCreate) -> Firm:
    """Register a firm; its USCC must be new."""
    if get_firm(session, data.uscc):
        raise FirmExists(f"统一社会信用代码 {data.uscc} 已登记")
    firm = Firm.model_validate(data)
    session.add(firm)
    session.flush()
    return firm


def update_firm(session: Session, firm: Firm, data: FirmCreate) -> bool:
    """Change a firm's registered details (never its USCC); returns whether anything changed."""
    if data.uscc != firm.uscc:
        raise ValueError("统一社会信用代码不可修改")
    changed = False
    for name in FIRM_FIELDS:
        if getattr(firm, name) != getattr(data, name):
            setattr(firm, name, getattr(data, name))
            changed = True
    if changed:
        firm.updated_at = utcnow()
        session.add(firm)
        session.flush()
    return changed


@dataclass
class ImportReport:
    """What an import did, or would have done, and every bad row."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_firm_rows(
    rows: Iterable[tuple[int, dict[str, str]]], *, pilot_codes: frozenset[str] = frozenset()
) -> tuple[list[FirmCreate], ImportReport]:
    """Validate every row; report each bad one (row, column, reason), including repeated USCCs. A code
    in `pilot_codes` (recorded exceptions) may fail a check character."""
    report = ImportReport()
    valid: list[FirmCreate] = []
    seen: dict[str, int] = {}
    for number, raw in rows:
        report.rows += 1
        try:
            firm = FirmCreate.model_validate(raw, context={"pilot_codes": pilot_codes})
        except ValidationError as exc:
            report.errors += firm_errors(exc, number)
            continue
        if firm.uscc in seen:
            report.errors.append(RowError(number, "uscc", f"与第 {seen[firm.uscc]} 行的统一社会信用代码重复"))
            continue
        seen[firm.uscc] = number
        valid.append(firm)
    return valid, report


def import_firms(
    session: Session,
    source: str | Path | IO[bytes] | bytes,
    *,
    filename: str = "",
    progress: Callable[[int], None] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> ImportReport:
    """Import a firm file, all or nothing: any bad row and nothing is written. New USCCs are created,
    known ones updated where their details changed, so re-importing a file adds nothing."""
    unreadable: list[RowError] = []
    try:
        rows = read_table(
            source, FIRM_COLUMNS, required=REQUIRED_FIRM_COLUMNS, filename=filename, errors=unreadable, limits=limits
        )
        valid, report = validate_firm_rows(rows, pilot_codes=pilot_code_set(session))
    except ImportFileError as exc:
        return ImportReport(errors=exc.errors)
    if unreadable:
        report.rows += len({e.row for e in unreadable})
        report.errors = sorted([*unreadable, *report.errors], key=lambda e: e.row)
    if not report.ok:
        return report
    existing: dict[str, Firm] = {}
    usccs = [f.uscc for f in valid]
    for start in range(0, len(usccs), 500):
        chunk = usccs[start : start + 500]
        existing.update({f.uscc: f for f in session.exec(select(Firm).where(col(Firm.uscc).in_(chunk)))})
    for done, data in enumerate(valid, start=1):
        firm = existing.get(data.uscc)
        if firm is None:
            session.add(Firm.model_validate(data))
            report.created += 1
        elif update_firm(session, firm, data):
            report.updated += 1
        else:
            report.unchanged += 1
        if done % 1000 == 0:
            session.flush()
            if progress:
                progress(1000)
    session.flush()
    if progress:
        progress(len(valid) % 1000)
    return report
