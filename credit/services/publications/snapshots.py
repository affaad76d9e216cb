"""Publishing: the immutable snapshot of both lists in force on a day, one transaction per publication.

Invariants: one publication per number (the unique index decides, even between two processes), one
transaction per publication (a crash half-way leaves nothing), and the database refuses to change or
delete a publication once written (migration 0004)."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import Text, case, cast, insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from credit import clock
from credit.models import Firm, Listing, ListKind, Publication, PublicationEntry, PublicationSeal
from credit.models.audit import audit_row, write_audit
from credit.rules.listings import NEVER_IN_FORCE
from credit.rules.ruleset import RuleSet
from credit.services.listings import in_force
from credit.services.publications.lock import take_writer_lock
from credit.services.publications.periods import PublicationError, period_bounds
from credit.services.publications.reading import get_publication
from credit.services.publications.seals import SnapshotDigest, anchor, header_doc, seal_json
from credit.services.rulesets import active_version, get_version, ruleset_of
from credit.services.signing import Signer

INSERT_CHUNK = 5000
_CORRECTION_RE = re.compile(r"(?P<base>.+)-R(?P<k>[0-9]+)")


class Published(NamedTuple):
    """What `publish_period` did: the publication of that number, and whether this call created it."""

    publication: Publication
    created: bool


# --- publishing ----------------------------------------------------------------------------------


def in_force_on(day: date):
    """A listing in force on `day`, judged by its dates, not by its current status: listed by then, its
    term not over and not ended early by then. Proposals and withdrawn proposals never were; a listing
    whose basis was later revoked is left out as if it never was (credit.rules.listings.NEVER_IN_FORCE)."""
    return in_force(day) & ~func.coalesce(col(Listing.end_code), "").in_(sorted(NEVER_IN_FORCE))


class _Bases:
    """Readable basis texts, from each listing's stored basis and the rule-set version it names; each
    distinct (list, basis document, version, decision date) is worded once."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._rules: dict[int, RuleSet | None] = {}
        self._texts: dict[tuple[str, str, int, date | None], str] = {}

    def rules(self, version: int) -> RuleSet | None:
        if version not in self._rules:
            row = get_version(self._session, version)
            self._rules[version] = ruleset_of(row) if row is not None else None
        return self._rules[version]

    def text(self, kind: str, document: str | None, version: int, decided_on: date | None) -> str:
        key = (kind, document or "", version, decided_on)
        if key not in self._texts:
            basis = json.loads(document) if document else {}
            self._texts[key] = self.word(kind, basis if isinstance(basis, dict) else {}, version, decided_on)
        return self._texts[key]

    def word(self, kind: str, basis: dict[str, Any], version: int, decided_on: date | None) -> str:
        version = int(basis.get("rule_set_version") or version)
        rules = self.rules(version)
        parts: list[str] = []
        if basis.get("triggers"):
            labels = {t.code: t.label for t in rules.triggers} if rules else {}
            parts.append("黑名单情形:" + ";".join(labels.get(code, code) for code in basis["triggers"]))
        criteria = [str(c) for c in basis.get("criteria") or ()]
        if criteria == ["red_eligible"] or (kind == ListKind.red and not criteria):
            if rules is not None:
                red = rules.red
                parts.append(
                    f"符合红榜条件:{red.grade} 级,{red.no_negative_months} 个月内无失信记录,"
                    f"获有效质量奖或名牌产品,或 {red.passes_months} 个月内监督抽查合格 {red.passes_min} 次以上"
                )
            else:
                parts.append("符合红榜条件")
        elif criteria:
            parts.append(";".join(criteria))
        if basis.get("as_of"):
            parts.append(f"评价日 {basis['as_of']}")
        if kind == ListKind.black and decided_on is not None:
            parts.append(f"决定列入日 {decided_on.isoformat()}")
        parts.append(f"规则集 v{version}")
        return ";".join(parts)[:4000]


def _entry_rows(session: Session, snapshot: date) -> list[Any]:
    """Every listing in force on `snapshot` with its firm, red then black, each by region, name and code.

    One statement, so the rows are one consistent view of the database. Names are ordered by code point
    (binary collation on both databases), so SQLite and PostgreSQL number the entries alike."""
    dialect = session.connection().dialect.name
    collation = "C" if dialect == "postgresql" else "BINARY"
    kind_order = case((col(Listing.kind) == ListKind.red, 0), else_=1)  # red first, then black
    query = (
        sa_select(
            col(Listing.id),
            col(Listing.kind),
            col(Listing.reason),
            # As text: many entries share a basis document, so each distinct one is parsed once (_Bases).
            cast(col(Listing.basis), Text).label("basis"),
            col(Listing.rule_set_version),
            col(Listing.decided_on),
            col(Listing.listed_from),
            col(Listing.listed_until),
            col(Firm.uscc),
            col(Firm.name),
            col(Firm.region),
            col(Firm.industry),
        )
        .join(Firm, col(Firm.id) == Listing.firm_id)
        .where(in_force_on(snapshot))
        .order_by(
            kind_order,
            col(Firm.region).collate(collation),
            col(Firm.name).collate(collation),
            Firm.uscc,
            col(Listing.id),
        )
    )
    # Core, not the ORM: plain rows, without the ORM's per-row bookkeeping (a period may list many thousands).
    return list(session.connection().execute(query).all())


def _snapshot(
    session: Session,
    *,
    number: str,
    period: str,
    snapshot: date,
    published_by: str,
    corrects: Publication | None = None,
    note: str = "",
    signer: Signer | None = None,
) -> Published:
    """Write publication `number` with every listing in force on `snapshot`, or return the one that exists,
    sealed (seals.py): its digest taken while the entries are written, the audit chain's head before it,
    signed by `signer` (None only in tests and tools without a key: `flask credit verify` refuses the seal).

    The caller's transaction holds the writer lock; the unique number is the last word: a writer that
    loses a race anyway rolls back to its savepoint and returns the winner's publication."""
    existing = get_publication(session, number)
    if existing is not None:
        return Published(existing, False)
    start, end = period_bounds(period)
    version = active_version(session).version
    rows = _entry_rows(session, snapshot)
    red_count = sum(1 for row in rows if row.kind == ListKind.red)
    publication = Publication(
        number=number,
        period=period,
        period_start=start,
        period_end=end,
        snapshot_date=snapshot,
        rule_set_version=version,
        corrects_id=corrects.id if corrects else None,
        correction_note=note[:1000],
        red_count=red_count,
        black_count=len(rows) - red_count,
        published_by=published_by[:120],
    )
    # The periodic anchor: the chain's head before the publication's own entries (a committed entry, or
    # one of this transaction, committed with it).
    audit_entry, audit_head = anchor(session.connection())
    try:
        with session.begin_nested():
            session.add(publication)
            session.flush()
    except IntegrityError:
        winner = get_publication(session, number)
        if winner is None:
            raise
        return Published(winner, False)

    digest = SnapshotDigest(
        header_doc(
            publication,
            corrects=corrects.number if corrects else None,
            audit_entry=audit_entry,
            audit_head=audit_head,
        )
    )
    bases = _Bases(session)
    positions = {ListKind.red.value: 0, ListKind.black.value: 0}
    table = PublicationEntry.__table__  # type: ignore[attr-defined]
    batch: list[dict[str, Any]] = []
    for row in rows:
        positions[row.kind] += 1
        batch.append(
            {
                "publication_id": publication.id,
                "kind": row.kind,
                "position": positions[row.kind],
                "listing_id": row.id,
                "uscc": row.uscc,
                "name": row.name,
                "region": row.region,
                "industry": row.industry,
                "reason": (row.reason or "")[:1000],
                "basis": bases.text(row.kind, row.basis, row.rule_set_version, row.decided_on),
                "listed_from": row.listed_from,
                "listed_until": row.listed_until,  # the term: the first day no longer in force
            }
        )
        if len(batch) >= INSERT_CHUNK:
            digest.add_all(batch)
            session.connection().execute(insert(table), batch)
            batch = []
    if batch:
        digest.add_all(batch)
        session.connection().execute(insert(table), batch)
    # The entries bypass the ORM (a period can list many thousands of firms): one audit row for them all.
    write_audit(
        session,
        [
            audit_row(
                session.info["actor"],
                action="publish",
                entity="publication_entry",
                entity_id=number,
                after={
                    "publication_id": publication.id,
                    "number": number,
                    "snapshot_date": snapshot.isoformat(),
                    "red_count": publication.red_count,
                    "black_count": publication.black_count,
                    "rule_set_version": version,
                },
            )
        ],
    )
    seal = seal_json(number=number, digest=digest.hexdigest(), audit_entry=audit_entry, audit_head=audit_head)
    signed = signer.sign(seal) if signer is not None else {}
    session.add(
        PublicationSeal(
            publication_id=publication.id,  # type: ignore[arg-type]
            digest=seal["digest"],
            audit_entry_id=audit_entry,
            audit_head=audit_head,
            key_id=signed.get("key_id"),
            signature=signed.get("signature"),
        )
    )
    session.flush()
    return Published(publication, True)


def publish_period(
    session: Session,
    period: str,
    *,
    as_of: date | None = None,
    published_by: str,
    today: date | None = None,
    signer: Signer | None = None,
) -> Published:
    """Publish the lists of an ended period as they stood on `as_of` (default: its last day).

    Idempotent per period: when publication `period` exists it is returned with `created=False`, and
    nothing is written. `today` (default: today in Beijing time) decides whether the period is over."""
    period = period.strip()
    start, end = period_bounds(period)
    day = today or clock.today()
    if end >= day:
        raise PublicationError(f"期次 {period} 尚未结束(截至 {end.isoformat()}),结束后才能发布")
    if end < clock.EARLIEST:
        raise PublicationError(f"期次 {period} 早于 {clock.EARLIEST.year} 年,不在本系统的时间范围内")
    snapshot = as_of or end
    if not start <= snapshot <= end:
        raise PublicationError(
            f"快照日 {snapshot.isoformat()} 不在期次 {period}({start.isoformat()} 至 {end.isoformat()})之内"
        )
    take_writer_lock(session, "publication")
    return _snapshot(session, number=period, period=period, snapshot=snapshot, published_by=published_by, signer=signer)


def publish_correction(
    session: Session, number: str, note: str, published_by: str, *, signer: Signer | None = None
) -> Publication:
    """A correction of publication `number`: `<original>-R<k>`, the same period and snapshot date, taken
    again from the data as it is now, naming the publication it corrects. The corrected one stays as it was."""
    note = " ".join((note or "").split())
    if not note:
        raise PublicationError("更正须说明理由(--note)")
    take_writer_lock(session, "publication")
    corrected = get_publication(session, number)
    if corrected is None:
        raise PublicationError(f"没有编号为 {number} 的发布")
    root = corrected
    while root.corrects_id is not None:
        parent = session.get(Publication, root.corrects_id)
        if parent is None:
            break
        root = parent
    existing = session.exec(
        select(Publication.number).where(col(Publication.number).startswith(f"{root.number}-R"))
    ).all()
    taken = [int(m["k"]) for n in existing if (m := _CORRECTION_RE.fullmatch(n)) and m["base"] == root.number]
    new_number = f"{root.number}-R{max(taken, default=0) + 1}"
    result = _snapshot(
        session,
        number=new_number,
        period=corrected.period,
        snapshot=corrected.snapshot_date,
        published_by=published_by,
        corrects=corrected,
        note=note,
        signer=signer,
    )
    if not result.created:  # cannot happen under the writer lock; refuse rather than mislabel
        raise PublicationError(f"更正编号 {new_number} 已被占用,请重试")
    return result.publication
