"""Importing spot-check announcements (监督抽查/抽检结果公告) as published: firms named, not coded.

One announcement (publisher + number, or publisher + date) is one import batch of pending events,
reviewed four-eyes like any import. Rows whose named firms match the register exactly become events at
once; the others wait in the confirmation queue (credit.services.name_queue) and join the batch as a
recorder confirms them. Idempotent on (announcement, row): a re-import adds nothing. A published notice
is not our data, so a row that cannot be read safely is skipped and reported by row with its reason,
and the rest go on; a file whose layout is not recognised changes nothing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import IO

from sqlalchemy import insert
from sqlmodel import Session, col, select

from credit.announcements.layouts import (
    BUILT_IN,
    Defaults,
    RowSkip,
    SpotCheckRow,
    detect_layout,
    mapping_layout,
    read_row,
)
from credit.announcements.names import Party, clean
from credit.models import (
    Announcement,
    AnnouncementParty,
    AnnouncementRow,
    ColumnMapping,
    CreditEvent,
    Firm,
    ImportBatch,
    PartyState,
    User,
    utcnow,
)
from credit.rules.spotcheck import failure_severity, record_owners
from credit.services.event_import import audit_batch, event_row, existing_keys
from credit.services.event_input import EventInput, parse_event
from credit.services.name_matching import rank_candidates, refresh_name_keys, resolve_exact
from credit.services.rulesets import active_ruleset
from credit.services.tabular import DEFAULT_LIMITS, ImportFileError, ReadLimits, RowError, raw_table

CHUNK = 2000
STAND_IN_USCC = "91350100M000100Y43"  # a valid code (SPEC §2's example), never written: see event_template
NO_DEFAULTS = Defaults()
ROLE_LABELS = {
    "producer": "标称生产企业",
    "commissioner": "委托方",
    "importer": "进口商",
    "distributor": "经销商",
    "seller": "被抽样单位",
}
_AUTHORITY_RE = re.compile(r"\(([^()]*(?:局|厅|委员会|委|总局|中心|办公室))\)$")


class AnnouncementError(ValueError):
    """A step on the confirmation queue that cannot be taken; the message says why."""


@dataclass
class AnnouncementSummary:
    """What an import did (or, as a preview, would do): counts of rows and of named firms by outcome,
    and every skipped row with its reason. `errors` are about the file as a whole: then nothing changed."""

    rows: int = 0
    passes: int = 0
    failures: int = 0
    matched: int = 0
    to_confirm: int = 0
    unmatched: int = 0
    out_of_jurisdiction: int = 0
    skipped: list[RowSkip] = field(default_factory=list)
    already_imported: int = 0
    events_created: int = 0
    layout: str = ""
    announcements: list[dict] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        """The summary with the keys the CLI's --json prints."""
        return {
            "rows": self.rows,
            "passes": self.passes,
            "failures": self.failures,
            "matched": self.matched,
            "to_confirm": self.to_confirm,
            "unmatched": self.unmatched,
            "out_of_jurisdiction": self.out_of_jurisdiction,
            "skipped": [{"row": s.file_row, "code": s.code, "reason": s.detail} for s in self.skipped],
            "already_imported": self.already_imported,
            "events_created": self.events_created,
            "layout": self.layout,
            "announcements": self.announcements,
            "errors": [str(e) for e in self.errors],
        }


def authority_of(publisher: str) -> str:
    """The bureau behind a publisher line: 国内监督抽查(福建市场监管局) → 福建市场监管局."""
    match = _AUTHORITY_RE.search(publisher)
    return match.group(1) if match else publisher


def announcement_key(row: SpotCheckRow) -> str:
    """(publisher, number), or (publisher, date) for an announcement without a number."""
    return f"{row.publisher}|{row.number or row.published_on.isoformat()}"


def _label(row: SpotCheckRow) -> str:
    return f"{authority_of(row.publisher)} {row.number or row.published_on.isoformat()}"


def _description(row: SpotCheckRow) -> str:
    parts = [f"监督抽查公告 {_label(row)} 第 {row.row_key} 行：{row.product or '（未列明产品）'}"]
    details = row.details
    extra = [f"{label}{details[name]}" for name, label in (("spec", "规格型号 "), ("brand", "商标 "), ("batch", "生产日期/批号 "), ("category", "分类 ")) if details.get(name)]  # fmt: skip
    if extra:
        parts.append(",".join(extra))
    if row.failed:
        parts.append("不合格项目：" + "；".join(row.items))
        if any(row.results):
            parts.append("检验结果：" + "；".join(row.results))
        if any(row.limits):
            parts.append("标准值：" + "；".join(row.limits))
    for party in row.parties:
        parts.append(f"{ROLE_LABELS.get(party.role, party.role)}:{party.name}")
    if details.get("lab"):
        parts.append(f"检验机构：{details['lab']}")
    if details.get("task"):
        parts.append(f"任务来源：{details['task']}")
    if row.remark:
        parts.append(f"备注：{row.remark}")
    return "。".join(parts)[:3800]


def row_values(row: SpotCheckRow, rules) -> dict:
    """The stored form of a readable row (also what its events are made of)."""
    return {
        "row_key": row.row_key,
        "file_row": row.file_row,
        "event_type": "spot_check_fail" if row.failed else "spot_check_pass",
        "severity": failure_severity(row.items, rules) if row.failed else None,
        "product": row.product,
        "failed_item": "；".join(row.items)[:500],
        "failed_result": "；".join(row.results)[:500] if any(row.results) else "",
        "failed_limit": "；".join(row.limits)[:500] if any(row.limits) else "",
        "document_no": f"{_label(row)} #{row.row_key}"[:100],
        "description": _description(row),
        "cells": row.raw,
    }


def event_template(announcement_authority: str, published_on: date, values: dict) -> EventInput:
    """The event a row makes, checked by the same validation as every entry point (the firm is filled
    in per party). Raises AnnouncementError when the row's values fail it."""
    raw = {
        "event_type": values["event_type"],
        "occurred_on": published_on.isoformat(),
        "document_no": values["document_no"],
        "authority": announcement_authority,
        "severity": values["severity"] or "",
        "product": values["product"],
        "description": values["description"],
    }
    # Every field but the firm is checked here: a well-formed code stands in until each party's firm replaces it.
    template, errors = parse_event({**raw, "uscc": STAND_IN_USCC})
    if template is None:
        raise AnnouncementError("；".join(e.message for e in errors))
    return template


def _read_source(source: str | Path | IO[bytes] | bytes, filename: str) -> tuple[bytes, str]:
    if isinstance(source, str | Path):
        return Path(source).read_bytes(), filename or Path(source).name
    if isinstance(source, bytes):
        return source, filename
    return source.read(), filename


def import_announcement(
    session: Session,
    source: str | Path | IO[bytes] | bytes,
    *,
    recorder: User,
    filename: str = "",
    mapping: ColumnMapping | None = None,
    defaults: Defaults = NO_DEFAULTS,
    dry_run: bool = False,
    preview_rows: int = 0,
    progress: Callable[[int], None] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> AnnouncementSummary:
    """Import an announcement file as `recorder` (see the module docstring). With `dry_run` everything
    is worked out and rolled back (all but the refresh of the register's name index): the summary is the
    preview of the real import."""
    data, filename = _read_source(source, filename)
    summary = AnnouncementSummary(dry_run=dry_run)
    layouts = (mapping_layout(mapping.name, mapping.columns),) if mapping is not None else BUILT_IN
    parsed: list[SpotCheckRow] = []
    try:
        table = raw_table(data, filename, limits)
        first = next(table, None)
        header = first[1] if first else []
        if not any(h.strip() for h in header):
            raise ImportFileError([RowError(1, "", "缺少表头行")])
        detected = detect_layout(header, layouts)
        if detected is None:
            titles = "、".join(h for h in header if h.strip())[:300]
            hint = f"与列对应关系「{mapping.name}」不符" if mapping else "不是已知的公告表格式；请先保存一个列对应关系"
            raise ImportFileError([RowError(1, "", f"无法识别的表头（{titles}）：{hint}")])
        summary.layout = detected.layout.code
        for number, cells, problems in table:
            if not any(c.strip() for c in cells):
                continue
            summary.rows += 1
            if problems:
                summary.skipped.append(RowSkip(number, "inexact_number", problems[0].reason))
                continue
            row = read_row(number, cells, detected, defaults)
            if isinstance(row, RowSkip):
                summary.skipped.append(row)
            else:
                parsed.append(row)
    except ImportFileError as exc:
        summary.errors = exc.errors
        return summary
    if summary.rows == 0:
        summary.errors.append(RowError(0, "", "文件中没有数据行"))
        return summary

    rules = active_ruleset(session).announcements
    # The register's name index is derived data, kept even by a preview: the import after it starts warm.
    refresh_name_keys(session)
    savepoint = session.begin_nested()
    groups: dict[str, list[SpotCheckRow]] = {}
    seen: dict[tuple[str, str], int] = {}
    for row in parsed:
        key = announcement_key(row)
        if (key, row.row_key) in seen:
            summary.skipped.append(
                RowSkip(row.file_row, "duplicate_row", f"与第 {seen[(key, row.row_key)]} 行的公告、序号相同")
            )
            continue
        seen[(key, row.row_key)] = row.file_row
        groups.setdefault(key, []).append(row)
        if row.failed:
            summary.failures += 1
        else:
            summary.passes += 1
    summary.skipped.sort(key=lambda s: s.file_row)

    known = {a.key: a for a in _announcements(session, list(groups))}
    on_file = _row_keys(session, [a.id for a in known.values()])  # type: ignore[misc]
    fresh: dict[str, list[SpotCheckRow]] = {}
    for key, rows in groups.items():
        announcement = known.get(key)
        for row in rows:
            if announcement is not None and (announcement.id, row.row_key) in on_file:
                summary.already_imported += 1
            else:
                fresh.setdefault(key, []).append(row)

    values: dict[int, dict] = {}
    templates: dict[int, EventInput] = {}
    owners: dict[int, list[Party]] = {}
    for key, rows in fresh.items():
        for row in rows:
            stored = row_values(row, rules)
            try:
                templates[id(row)] = event_template(authority_of(row.publisher), row.published_on, stored)
            except AnnouncementError as exc:
                summary.skipped.append(RowSkip(row.file_row, "invalid_event", str(exc)))
                continue
            values[id(row)] = stored
            owners[id(row)] = record_owners(row.parties, failed=row.failed, remark=row.remark, rules=rules)
        fresh[key] = [r for r in rows if id(r) in values]
    summary.skipped.sort(key=lambda s: s.file_row)

    keys = {party.key: party.address for found in owners.values() for party in found}
    resolved = resolve_exact(session, keys)
    pending = {k: address for k, address in keys.items() if k not in resolved or resolved[k].firm_id is None}
    pending = {k: a for k, a in pending.items() if not (k in resolved and resolved[k].outside)}
    candidates = rank_candidates(session, pending, rules)
    for key, resolution in resolved.items():
        if len(resolution.firm_ids) > 1:  # registered names that normalise alike: a person decides
            candidates[key] = _as_candidates(session, resolution.firm_ids) + [
                c for c in candidates.get(key, []) if c["firm_id"] not in resolution.firm_ids
            ]
    usccs = _usccs(session, {r.firm_id for r in resolved.values() if r.firm_id is not None})

    now = utcnow()
    for key, rows in fresh.items():
        if not rows:
            continue
        announcement = known.get(key) or _new_announcement(session, rows[0], recorder, summary.layout, filename, data)
        batch = session.get(ImportBatch, announcement.import_batch_id)
        assert batch is not None
        row_ids = _insert_rows(session, announcement.id, [values[id(r)] for r in rows])  # type: ignore[arg-type]
        parties: list[dict] = []
        events: list[dict] = []
        event_parties: list[int] = []
        taken: set[tuple[int, str, str]] = set()
        for row, row_id in zip(rows, row_ids, strict=True):
            for party in owners[id(row)]:
                resolution = resolved.get(party.key)
                state, firm_id = _state(resolution, candidates.get(party.key))
                parties.append(
                    {
                        "announcement_id": announcement.id,
                        "row_id": row_id,
                        "role": party.role,
                        "name": party.name,
                        "name_key": party.key,
                        "address": party.address,
                        "state": state.value,
                        "firm_id": firm_id,
                        "event_id": None,
                        "candidates": candidates.get(party.key, []) if firm_id is None else [],
                        "decided_by_id": None,
                        "decided_at": None,
                        "note": "",
                    }
                )
                _count(summary, state)
                if firm_id is None:
                    continue
                template = replace(templates[id(row)], uscc=usccs[firm_id])
                natural = (firm_id, template.event_type, template.document_no)
                if natural in taken:
                    continue  # two roles of one row name the same firm: one record
                taken.add(natural)
                events.append(
                    event_row(
                        template,
                        firm_id,
                        batch_id=batch.id,  # type: ignore[arg-type]
                        recorder_id=recorder.id,  # type: ignore[arg-type]
                        now=now,
                        failed_item=values[id(row)]["failed_item"],
                        failed_result=values[id(row)]["failed_result"],
                        failed_limit=values[id(row)]["failed_limit"],
                    )
                )
                event_parties.append(len(parties) - 1)
        existing = existing_keys(session, [(e["firm_id"], e["event_type"], e["document_no"]) for e in events])
        new_events = [e for e in events if (e["firm_id"], e["event_type"], e["document_no"]) not in existing]
        new_ids = iter(_insert_events(session, new_events))
        for event, index in zip(events, event_parties, strict=True):
            natural = (event["firm_id"], event["event_type"], event["document_no"])
            parties[index]["event_id"] = existing.get(natural) or next(new_ids)
        by_firm = {(p["row_id"], p["firm_id"]): p["event_id"] for p in parties if p["event_id"]}
        for party in parties:
            if party["firm_id"] is not None and party["event_id"] is None:
                party["event_id"] = by_firm.get((party["row_id"], party["firm_id"]))
        for start in range(0, len(parties), CHUNK):
            session.connection().execute(insert(AnnouncementParty.__table__), parties[start : start + CHUNK])  # type: ignore[attr-defined]
        batch.rows += len(rows)
        batch.created += len(new_events)
        session.add(batch)
        session.flush()
        summary.events_created += len(new_events)
        audit_batch(session, batch, announcement=announcement.key, rows_added=len(rows), events_added=len(new_events))
        summary.announcements.append(
            {
                "key": announcement.key,
                "label": f"{announcement.authority} {announcement.number or announcement.published_on.isoformat()}",
                "batch_id": batch.id,
                "announcement_id": announcement.id,
                "rows": len(rows),
                "events": len(new_events),
            }
        )
        if preview_rows and len(summary.preview) < preview_rows:
            summary.preview += _preview(rows, row_ids, values, parties, preview_rows - len(summary.preview))
        if progress:
            progress(len(rows))
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return summary


def _state(resolution, candidates) -> tuple[PartyState, int | None]:
    if resolution is not None and resolution.outside:
        return PartyState.outside, None
    if resolution is not None and resolution.firm_id is not None:
        return PartyState.matched, resolution.firm_id
    return (PartyState.to_confirm if candidates else PartyState.unmatched), None


def _count(summary: AnnouncementSummary, state: PartyState) -> None:
    if state == PartyState.matched:
        summary.matched += 1
    elif state == PartyState.to_confirm:
        summary.to_confirm += 1
    elif state == PartyState.unmatched:
        summary.unmatched += 1
    else:
        summary.out_of_jurisdiction += 1


def _preview(rows: list[SpotCheckRow], row_ids: list[int], values: dict, parties: list[dict], limit: int) -> list[dict]:
    by_row: dict[int, list[dict]] = {}
    for party in parties:
        by_row.setdefault(party["row_id"], []).append(party)
    lines = []
    for row, row_id in zip(rows, row_ids, strict=True):
        if len(lines) >= limit:
            break
        stored = values[id(row)]
        lines.append(
            {
                "row": row.file_row,
                "row_key": row.row_key,
                "product": row.product,
                "event_type": stored["event_type"],
                "severity": stored["severity"],
                "failed_item": stored["failed_item"],
                "parties": [
                    {"role": p["role"], "name": p["name"], "state": p["state"], "candidates": p["candidates"]}
                    for p in by_row.get(row_id, [])
                ],
            }
        )
    return lines


def _announcements(session: Session, keys: list[str]) -> list[Announcement]:
    found: list[Announcement] = []
    for start in range(0, len(keys), CHUNK):
        found += session.exec(select(Announcement).where(col(Announcement.key).in_(keys[start : start + CHUNK]))).all()
    return found


def _row_keys(session: Session, announcement_ids: list[int]) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for start in range(0, len(announcement_ids), CHUNK):
        chunk = announcement_ids[start : start + CHUNK]
        found.update(
            session.exec(
                select(AnnouncementRow.announcement_id, AnnouncementRow.row_key).where(
                    col(AnnouncementRow.announcement_id).in_(chunk)
                )
            ).all()
        )
    return found


def _new_announcement(
    session: Session, row: SpotCheckRow, recorder: User, layout: str, filename: str, data: bytes
) -> Announcement:
    batch = ImportBatch(
        filename=(filename or "announcement")[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        rows=0,
        recorded_by_id=recorder.id,  # type: ignore[arg-type]
    )
    session.add(batch)
    session.flush()
    announcement = Announcement(
        key=announcement_key(row),
        publisher=row.publisher,
        authority=authority_of(row.publisher)[:200],
        number=row.number,
        published_on=row.published_on,
        layout=layout[:100],
        filename=(filename or "")[:255],
        import_batch_id=batch.id,  # type: ignore[arg-type]
        recorded_by_id=recorder.id,  # type: ignore[arg-type]
    )
    session.add(announcement)
    session.flush()
    return announcement


def _insert_rows(session: Session, announcement_id: int, rows: list[dict]) -> list[int]:
    table = AnnouncementRow.__table__  # type: ignore[attr-defined]
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        chunk = [{**r, "announcement_id": announcement_id} for r in rows[start : start + CHUNK]]
        result = session.connection().execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), chunk)
        ids += [r[0] for r in result]
    return ids


def _insert_events(session: Session, events: list[dict]) -> list[int]:
    table = CreditEvent.__table__  # type: ignore[attr-defined]
    ids: list[int] = []
    for start in range(0, len(events), CHUNK):
        result = session.connection().execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), events[start : start + CHUNK]
        )
        ids += [r[0] for r in result]
    return ids


def _usccs(session: Session, firm_ids: set[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    ordered = sorted(firm_ids)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        found.update(session.exec(select(Firm.id, Firm.uscc).where(col(Firm.id).in_(chunk))).all())  # type: ignore[arg-type]
    return found


def _as_candidates(session: Session, firm_ids: tuple[int, ...]) -> list[dict]:
    firms = session.exec(select(Firm).where(col(Firm.id).in_(firm_ids)).order_by(Firm.id)).all()
    return [{"firm_id": f.id, "uscc": f.uscc, "name": clean(f.name), "region": f.region, "score": 100.0} for f in firms]


def save_mapping(session: Session, name: str, columns: dict[str, str], *, user: User) -> ColumnMapping:
    """Save (or replace) a named column mapping {field: header title} for a layout not built in."""
    from credit.announcements.layouts import mapping_problems

    title = clean(name)[:100]
    if not title:
        raise AnnouncementError("请为列对应关系命名")
    wanted = {f: clean(t)[:200] for f, t in columns.items() if clean(t)}
    problems = mapping_problems(wanted)
    if problems:
        raise AnnouncementError("；".join(problems))
    mapping = mapping_by_name(session, title)
    if mapping is None:
        mapping = ColumnMapping(name=title, columns=wanted, created_by_id=user.id)  # type: ignore[arg-type]
    else:
        mapping.columns = wanted
        mapping.updated_at = utcnow()
    session.add(mapping)
    session.flush()
    return mapping


def mapping_by_name(session: Session, name: str) -> ColumnMapping | None:
    """A saved column mapping by its name."""
    return session.exec(select(ColumnMapping).where(ColumnMapping.name == clean(name))).first()
