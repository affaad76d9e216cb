"""Verification of the records' integrity (`flask credit verify`), reading only:

* the audit chain, entry by entry in id order, so that a changed, removed or inserted entry is found and
  named;
* every publication, in id order: its seal's digest recomputed from the stored row and entries, the
  seal's Ed25519 signature under the key it names, and its anchor — the audit entry it names must hold,
  in the chain just walked, the hash the seal recorded (so even a rewrite of the whole chain after a
  publication shows: the rewriter cannot re-sign the seal)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from credit.models import Publication, PublicationSeal
from credit.models.audit import CHAINED_FIELDS, GENESIS, AuditEntry, entry_hash
from credit.services.publications.seals import stored_digest, stored_seal_json
from credit.services.signing import all_keys, verify

BATCH = 5000


@dataclass(frozen=True)
class ChainReport:
    """What the walk found: the number of entries that verify, the head hash, and the first failure."""

    entries: int
    head: str
    failure: str | None = None  # "audit_log #17: …" for the first entry that does not verify

    @property
    def ok(self) -> bool:
        return self.failure is None


def _entries(session: Session) -> Iterator[dict]:
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    columns = [table.c.id, table.c.hash, *(table.c[name] for name in CHAINED_FIELDS)]
    last = 0
    while True:
        rows = session.execute(select(*columns).where(table.c.id > last).order_by(table.c.id).limit(BATCH)).mappings()
        batch = [dict(row) for row in rows]
        if not batch:
            return
        yield from batch
        last = batch[-1]["id"]


def verify_audit_chain(session: Session, *, watch: dict[int, str | None] | None = None) -> ChainReport:
    """Walk the audit chain from its first entry: each must link to the hash of the one before and its own
    hash must match its content. Stops at the first entry that does not verify. The hashes of the
    entries named in `watch` (ids) are written into it as they are passed."""
    head, count = GENESIS, 0
    for entry in _entries(session):
        if watch is not None and entry["id"] in watch:
            watch[entry["id"]] = entry["hash"]
        if entry["prev_hash"] != head:
            reason = "不是上一条记录之后的记录（有记录被删除、插入或改动）"
            return ChainReport(count, head, f"audit_log #{entry['id']}: {reason}")
        if entry["hash"] != entry_hash(entry):
            return ChainReport(count, head, f"audit_log #{entry['id']}: 内容与其哈希不符（记录被改动）")
        head = entry["hash"]
        count += 1
    return ChainReport(count, head)


@dataclass(frozen=True)
class PublicationReport:
    """What the check of the publications found: how many verify (and how many of those are sealed
    without a signature by migration 0013), and the first that does not."""

    publications: int
    unsigned: int = 0
    failure: str | None = None  # "publication 2026-11: …"

    @property
    def ok(self) -> bool:
        return self.failure is None


def anchors(session: Session) -> dict[int, str | None]:
    """The audit entries the seals anchor to, for `verify_audit_chain(watch=…)` to fill in."""
    ids = session.exec(
        orm_select(PublicationSeal.audit_entry_id).where(col(PublicationSeal.audit_entry_id).isnot(None))
    )
    return {entry_id: None for entry_id in ids if entry_id is not None}


def verify_publications(session: Session, chain: dict[int, str | None] | None) -> PublicationReport:
    """Check every publication in id order against its seal; `chain` holds the anchored entries' hashes as
    the walk of the audit chain found them (None for an entry the walk never reached; `chain` None when
    the walk failed, and the anchors are then not judged). Stops at the first publication that does not
    verify."""
    every_key = all_keys(session)
    keys = {key.key_id: key.public_key for key in every_key}
    # An unsigned seal is a backfill of migration 0013, so only for a publication older than any key.
    signing_since = min((_aware(key.valid_from) for key in every_key), default=None)
    rows = session.exec(
        orm_select(Publication.id, Publication.number, Publication.published_at, PublicationSeal)
        .join(PublicationSeal, col(PublicationSeal.publication_id) == Publication.id, isouter=True)
        .order_by(col(Publication.id))
    ).all()
    done = unsigned = 0
    for publication_id, number, published_at, seal in rows:
        reason = _seal_failure(session, publication_id, number, seal, keys, chain)  # type: ignore[arg-type]
        if reason is None and seal.signature is None and signing_since and _aware(published_at) >= signing_since:
            reason = "封存记录没有签名（发布晚于首个签名密钥）"
        if reason is not None:
            return PublicationReport(done, unsigned, f"publication {number}: {reason}")
        unsigned += seal.signature is None
        done += 1
    return PublicationReport(done, unsigned)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _seal_failure(
    session: Session,
    publication_id: int,
    number: str,
    seal: PublicationSeal | None,
    keys: dict[str, str],
    chain: dict[int, str | None] | None,
) -> str | None:
    """Why this publication does not verify, or None."""
    if seal is None:
        return "没有封存记录（摘要与签名缺失）"
    digest = stored_digest(
        session.connection(), publication_id, audit_entry=seal.audit_entry_id, audit_head=seal.audit_head
    )
    if digest != seal.digest:
        return f"内容与封存摘要不符（重算 {digest[:16]}…，封存 {seal.digest[:16]}…：发布或其名单被改动）"
    if seal.signature is None:
        if not seal.backfilled:
            return "封存记录没有签名"
    elif seal.key_id not in keys:
        return f"签名密钥 {seal.key_id} 不在密钥列表中"
    elif not verify(stored_seal_json(number, seal), keys[seal.key_id]):
        return f"签名无效（签名密钥 {seal.key_id}）"
    if chain is None:
        return None
    if seal.audit_entry_id is None:
        return None if seal.audit_head == GENESIS else "锚定的审计链头与空日志不符"
    found = chain.get(seal.audit_entry_id)
    if found != seal.audit_head:
        where = "已不在审计链中" if found is None else "的哈希已不同"
        return f"锚定的审计记录 audit_log #{seal.audit_entry_id} {where}（审计链在此之前被改写）"
    return None
