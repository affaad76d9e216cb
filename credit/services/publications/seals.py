"""Publication seals (issue 11): the SHA-256 digest of a publication's canonical snapshot, the audit chain's
head when it was made (the periodic anchor), and the bureau's Ed25519 signature over both.

The canonical snapshot (docs/security.md, "Publication digests") is JSON Lines, UTF-8: one line for the
header, then one line per entry — the red list by position, then the black list by position — each line
a JSON object with sorted keys, separators (",", ":"), no ASCII escaping, ended by "\\n":

    header: number, period, period_start, period_end, snapshot_date, rule_set_version, corrects (the
            number it corrects, or null), correction_note, red_count, black_count, published_at (UTC,
            ISO 8601 as in the JSON), audit_entry (id of the newest audit entry before the publication, or
            null), audit_head (that entry's hash; 64 zeros for an empty log)
    entry:  list ("red" | "black"), position, listing_id, uscc, name, region, industry, reason, basis,
            listed_from, listed_until (dates ISO, null when open)

Every field is in the publication's JSON (`seal` carries the anchor), so anyone can recompute the digest
from `/api/v1/publications/{number}` while no entry is hidden from the public. The seal's signature is
over `seal_json` without `signature` (credit.services.signing.canonical), like every signed answer.

Invariant: the digest is a contract. Changing a field or the order makes every stored seal fail `verify`;
a new layout would need a version field of its own."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from credit.models.audit import GENESIS

HEADER_FIELDS = (
    "number",
    "period",
    "period_start",
    "period_end",
    "snapshot_date",
    "rule_set_version",
    "corrects",
    "correction_note",
    "red_count",
    "black_count",
    "published_at",
    "audit_entry",
    "audit_head",
)
ENTRY_FIELDS = (
    "list",
    "position",
    "listing_id",
    "uscc",
    "name",
    "region",
    "industry",
    "reason",
    "basis",
    "listed_from",
    "listed_until",
)
LIST_ORDER = ("red", "black")


def _day(value: date | str | None) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else value.isoformat()


def instant(value: datetime | str) -> str:
    """A moment as the publication's JSON shows it: UTC, ISO 8601 (SQLite hands back naive UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def line(document: Mapping[str, Any]) -> bytes:
    """One line of the canonical snapshot: sorted keys, compact, UTF-8, "\\n" at the end."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def header_doc(publication: Any, *, corrects: str | None, audit_entry: int | None, audit_head: str) -> dict[str, Any]:
    """The header line's fields, from a Publication (or a row with its columns)."""
    return {
        "number": publication.number,
        "period": publication.period,
        "period_start": _day(publication.period_start),
        "period_end": _day(publication.period_end),
        "snapshot_date": _day(publication.snapshot_date),
        "rule_set_version": publication.rule_set_version,
        "corrects": corrects,
        "correction_note": publication.correction_note,
        "red_count": publication.red_count,
        "black_count": publication.black_count,
        "published_at": instant(publication.published_at),
        "audit_entry": audit_entry,
        "audit_head": audit_head,
    }


def entry_doc(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry line's fields, from a publication_entry row (its `kind` is the line's `list`)."""
    return {
        "list": entry["kind"],
        "position": entry["position"],
        "listing_id": entry["listing_id"],
        "uscc": entry["uscc"],
        "name": entry["name"],
        "region": entry["region"],
        "industry": entry["industry"],
        "reason": entry["reason"],
        "basis": entry["basis"],
        "listed_from": _day(entry["listed_from"]),
        "listed_until": _day(entry["listed_until"]),
    }


class SnapshotDigest:
    """The running SHA-256 of a canonical snapshot: the header first, then the entries in list order."""

    def __init__(self, header: Mapping[str, Any]) -> None:
        self._hash = hashlib.sha256(line(header))

    def add(self, entry: Mapping[str, Any]) -> None:
        self._hash.update(line(entry_doc(entry)))

    def add_all(self, entries: Iterable[Mapping[str, Any]]) -> None:
        for entry in entries:
            self.add(entry)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def anchor(connection: sa.Connection) -> tuple[int | None, str]:
    """The audit chain's head now: the newest entry's id and hash (None and the genesis for an empty log)."""
    row = connection.execute(sa.text("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")).first()
    if row is None:
        return None, GENESIS
    return row[0], row[1] or GENESIS


def _tables() -> tuple[sa.Table, sa.Table]:
    from credit.models import Publication, PublicationEntry

    return Publication.__table__, PublicationEntry.__table__  # type: ignore[attr-defined]


def stored_digest(connection: sa.Connection, publication_id: int, *, audit_entry: int | None, audit_head: str) -> str:
    """The digest of a publication recomputed from its stored row and entries (with the anchor its seal
    names): what `flask credit verify` compares with the seal. Reads the entries in one ordered pass."""
    publication, entry = _tables()
    row = connection.execute(sa.select(publication).where(publication.c.id == publication_id)).one()
    corrects = None
    if row.corrects_id is not None:
        corrects = connection.execute(
            sa.select(publication.c.number).where(publication.c.id == row.corrects_id)
        ).scalar_one_or_none()
    digest = SnapshotDigest(header_doc(row, corrects=corrects, audit_entry=audit_entry, audit_head=audit_head))
    kind_order = sa.case((entry.c.kind == "red", 0), else_=1)
    rows = connection.execute(
        sa.select(entry).where(entry.c.publication_id == publication_id).order_by(kind_order, entry.c.position)
    ).mappings()
    digest.add_all(rows)
    return digest.hexdigest()


def seal_json(*, number: str, digest: str, audit_entry: int | None, audit_head: str) -> dict[str, Any]:
    """The seal as it is signed and shown (`key_id` and `signature` are added by the signer)."""
    return {"number": number, "digest": digest, "audit_entry": audit_entry, "audit_head": audit_head}


def stored_seal_json(number: str, seal: Any) -> dict[str, Any]:
    """A stored seal as the publication's JSON, page and feed show it."""
    shown = seal_json(number=number, digest=seal.digest, audit_entry=seal.audit_entry_id, audit_head=seal.audit_head)
    shown["key_id"] = seal.key_id
    shown["signature"] = seal.signature
    return shown
