"""The downloads of a publication: CSV (UTF-8 with BOM), Excel (written in openpyxl's write-only mode, so
row by row in constant time) and JSON. The tables go through the formula-safe writer
(credit.services.spreadsheet)."""

from __future__ import annotations

import io
import json
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from credit import clock
from credit.models import ListKind, Publication, PublicationEntry, PublicationExport, PublicationWithdrawal, utcnow
from credit.services.publications.reading import PublicationDetail
from credit.services.publications.seals import stored_seal_json
from credit.services.publications.visibility import public_state, publication_detail
from credit.services.spreadsheet import csv_bytes, xlsx_cell

KIND_LABELS = {"red": "红榜", "black": "黑榜"}

COLUMNS: tuple[tuple[str, str], ...] = (
    ("list", "榜单"),
    ("position", "序号"),
    ("uscc", "统一社会信用代码"),
    ("name", "企业名称"),
    ("region", "所属镇街"),
    ("industry", "行业"),
    ("reason", "列入理由"),
    ("basis", "依据"),
    ("listed_from", "列入日期"),
    ("listed_until", "有效期至(不含)"),
)


def _values(entry: PublicationEntry) -> list[Any]:
    return [
        entry.kind,
        entry.position,
        entry.uscc,
        entry.name,
        entry.region,
        entry.industry,
        entry.reason,
        entry.basis,
        entry.listed_from.isoformat(),
        entry.listed_until.isoformat() if entry.listed_until else "",
    ]


def _header() -> list[str]:
    return [f"{label}({code})" for code, label in COLUMNS]


def publication_csv(detail: PublicationDetail) -> bytes:
    """Both lists as CSV: UTF-8 with a byte-order mark (so Excel reads the Chinese), one header row
    naming each column in Chinese with its code, red entries first; formula-safe (credit.services.spreadsheet)."""
    return csv_bytes(_header(), (_values(entry) for entry in detail.entries()))


def publication_xlsx(detail: PublicationDetail) -> bytes:
    """Both lists as an Excel workbook: a sheet per list and a sheet describing the publication. The USCC
    column is text (an 18-character code, never a number); no text cell is ever a formula.

    Written in openpyxl's write-only mode: each row is streamed out as it is appended, so the time is
    linear in the entries and the memory flat (a worksheet kept in memory re-reads its rows per append)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    pub = detail.publication
    book = Workbook(write_only=True)
    about = book.create_sheet("说明")
    about.column_dimensions["A"].width = 22
    about.column_dimensions["B"].width = 40
    for label, value in (
        ("编号", pub.number),
        ("期次", pub.period),
        ("快照日", pub.snapshot_date.isoformat()),
        ("规则集版本", pub.rule_set_version),
        ("更正", detail.corrects or ""),
        ("更正说明", pub.correction_note),
        ("发布时间(北京时间)", pub.published_at.astimezone(clock.BUREAU_TZ).strftime("%Y-%m-%d %H:%M")),
        ("红榜企业数", pub.red_count),
        ("黑榜企业数", pub.black_count),
        ("快照摘要(SHA-256)", detail.seal.digest if detail.seal else ""),
        ("签名密钥", (detail.seal.key_id or "") if detail.seal else ""),
    ):
        about.append([label, xlsx_cell(about, value)])
    uscc_index = [code for code, _ in COLUMNS].index("uscc")
    widths = {"A": 8, "B": 6, "C": 22, "D": 36, "E": 14, "F": 8, "G": 48, "H": 60, "I": 12, "J": 14}
    bold = Font(bold=True)
    for kind, entries in ((ListKind.red, detail.red), (ListKind.black, detail.black)):
        sheet = book.create_sheet(KIND_LABELS[kind])
        for letter, width in widths.items():
            sheet.column_dimensions[letter].width = width
        sheet.freeze_panes = "A2"
        header = []
        for title in _header():
            cell = WriteOnlyCell(sheet, value=title)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for entry in entries:
            sheet.append([xlsx_cell(sheet, v, text=i == uscc_index) for i, v in enumerate(_values(entry))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def entry_json(entry: PublicationEntry) -> dict[str, Any]:
    return {
        "position": entry.position,
        "listing_id": entry.listing_id,  # in the digest (seals.py), so anyone can recompute it
        "uscc": entry.uscc,
        "name": entry.name,
        "region": entry.region,
        "industry": entry.industry,
        "reason": entry.reason,
        "basis": entry.basis,
        "listed_from": entry.listed_from.isoformat(),
        "listed_until": entry.listed_until.isoformat() if entry.listed_until else None,
    }


def _instant(pub: Publication) -> str:
    return pub.published_at.astimezone(UTC).isoformat()


def withdrawal_json(withdrawal: PublicationWithdrawal | None) -> dict[str, Any] | None:
    if withdrawal is None:
        return None
    return {
        "withdrawn_on": withdrawal.withdrawn_on.isoformat(),
        "withdrawn_at": withdrawal.withdrawn_at.astimezone(UTC).isoformat(),
        "reason": withdrawal.reason,
    }


def publication_summary(
    pub: Publication, corrects: str | None, withdrawal: PublicationWithdrawal | None = None
) -> dict[str, Any]:
    """One line of the list of publications (API)."""
    return {
        "number": pub.number,
        "period": pub.period,
        "snapshot_date": pub.snapshot_date.isoformat(),
        "published_at": _instant(pub),
        "red_count": pub.red_count,
        "black_count": pub.black_count,
        "corrects": corrects,
        "withdrawn": withdrawal_json(withdrawal),
    }


def publication_json(detail: PublicationDetail) -> dict[str, Any]:
    """The whole publication as JSON (the API's and the .json download's shape)."""
    pub = detail.publication
    return {
        "number": pub.number,
        "period": pub.period,
        "period_start": pub.period_start.isoformat(),
        "period_end": pub.period_end.isoformat(),
        "snapshot_date": pub.snapshot_date.isoformat(),
        "rule_set_version": pub.rule_set_version,
        "corrects": detail.corrects,
        "correction_note": pub.correction_note,
        "corrected_by": list(detail.corrected_by),
        "withdrawn": withdrawal_json(detail.withdrawal),
        "published_at": _instant(pub),
        "red_count": pub.red_count,
        "black_count": pub.black_count,
        "red": [entry_json(e) for e in detail.red],
        "black": [entry_json(e) for e in detail.black],
        # The digest of the snapshot as published, the audit anchor and the bureau's signature over them;
        # verify the seal like a check answer (docs/api.md). Null only for a seal removed since.
        "seal": stored_seal_json(pub.number, detail.seal) if detail.seal is not None else None,
    }


# --- stored exports ------------------------------------------------------------------------------

FORMATS = ("csv", "xlsx", "json")
# Raised when the bytes of an export change for the same publication (a new column, another layout):
# stored files of an older layout are then written again.
EXPORT_LAYOUT = 2  # 2: the JSON's seal and listing_id; every cell through credit.services.spreadsheet


def export_bytes(detail: PublicationDetail, fmt: str) -> bytes:
    """The download of `detail` in `fmt`: csv, xlsx or json (the API's shape, sorted keys, UTF-8)."""
    if fmt == "csv":
        return publication_csv(detail)
    if fmt == "xlsx":
        return publication_xlsx(detail)
    if fmt == "json":
        return json.dumps(publication_json(detail), ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    raise ValueError(f"导出格式须为 {'、'.join(FORMATS)},实为「{fmt}」")


def export_tag(state: str, fmt: str) -> str:
    """The strong ETag of a download: the same bytes for as long as the public state stays the same."""
    return f"{state}-{fmt}-{EXPORT_LAYOUT}"


def stored_export(
    session: Session, publication: Publication, fmt: str, *, state: str | None = None
) -> PublicationExport:
    """The download of `publication` in `fmt`, written once and kept in the database (shared by every web
    host), written again only when what the public may see of it changed (visibility.public_state).
    Two processes writing it at once: the unique (publication, format) decides, the loser reads the winner's."""
    if fmt not in FORMATS:
        raise ValueError(f"导出格式须为 {'、'.join(FORMATS)},实为「{fmt}」")
    tag = export_tag(state or public_state(session, publication), fmt)
    existing = _stored(session, publication, fmt)
    if existing is not None and existing.fingerprint == tag:
        return existing
    content = export_bytes(publication_detail(session, publication), fmt)
    table = PublicationExport.__table__  # type: ignore[attr-defined]
    try:
        with session.begin_nested():
            conn = session.connection()
            conn.execute(sa.delete(table).where(table.c.publication_id == publication.id, table.c.format == fmt))
            conn.execute(
                sa.insert(table).values(
                    publication_id=publication.id,
                    format=fmt,
                    fingerprint=tag,
                    content=content,
                    size=len(content),
                    created_at=utcnow(),
                )
            )
    except IntegrityError:
        pass  # written meanwhile by another process: theirs is the same file
    session.expire_all()
    row = _stored(session, publication, fmt)
    if row is None:  # pragma: no cover - the insert above or the winner's is there
        raise RuntimeError(f"发布 {publication.number} 的 {fmt} 文件未能保存")
    return row


def _stored(session: Session, publication: Publication, fmt: str) -> PublicationExport | None:
    return session.exec(
        select(PublicationExport).where(
            PublicationExport.publication_id == publication.id, PublicationExport.format == fmt
        )
    ).first()


def store_exports(session: Session, publication: Publication) -> list[PublicationExport]:
    """Write every download of `publication` now (after publishing, so no visitor waits for the first)."""
    state = public_state(session, publication)
    return [stored_export(session, publication, fmt, state=state) for fmt in FORMATS]
