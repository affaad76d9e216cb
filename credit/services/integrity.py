"""Verification of the records' integrity: the audit chain, entry by entry in id order, so that a changed,
removed or inserted entry is found and named (`flask credit verify`). Reads only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from credit.models.audit import CHAINED_FIELDS, GENESIS, AuditEntry, entry_hash

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


def verify_audit_chain(session: Session) -> ChainReport:
    """Walk the audit chain from its first entry: each must link to the hash of the one before and its own
    hash must match its content. Stops at the first entry that does not verify."""
    head, count = GENESIS, 0
    for entry in _entries(session):
        if entry["prev_hash"] != head:
            reason = "不是上一条记录之后的记录（有记录被删除、插入或改动）"
            return ChainReport(count, head, f"audit_log #{entry['id']}: {reason}")
        if entry["hash"] != entry_hash(entry):
            return ChainReport(count, head, f"audit_log #{entry['id']}: 内容与其哈希不符（记录被改动）")
        head = entry["hash"]
        count += 1
    return ChainReport(count, head)
