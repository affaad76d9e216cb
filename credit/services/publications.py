"""Publications (发布): immutable, numbered snapshots of both lists for one period (SPEC §2).

A publication copies every listing in force on its snapshot date (default: the period's last day) with
the firm's particulars, the reason and a readable basis, so that later changes to a firm or a listing
never alter what was published. Invariants: one publication per number (the unique index decides, even
between two processes), one transaction per publication (a crash half-way leaves nothing), and the
database refuses to change or delete a publication once written (migration 0004)."""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Text, case, cast, insert, text
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from credit import clock
from credit.models import Firm, Listing, ListingStatus, ListKind, Publication, PublicationEntry, PublicationWithdrawal
from credit.models.audit import audit_row, write_audit
from credit.rules.dates import add_months
from credit.rules.listings import NEVER_IN_FORCE, hidden_from_public_sql
from credit.rules.ruleset import RuleSet
from credit.services.listings import in_force
from credit.services.rulesets import active_version, get_version, ruleset_of

MONTHLY = "monthly"
QUARTERLY = "quarterly"
PERIOD_KINDS = (MONTHLY, QUARTERLY)

_MONTHLY_RE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_QUARTERLY_RE = re.compile(r"([0-9]{4})-Q([1-4])")
_CORRECTION_RE = re.compile(r"(?P<base>.+)-R(?P<k>[0-9]+)")

INSERT_CHUNK = 5000
KIND_LABELS = {"red": "红榜", "black": "黑榜"}


class PublicationError(ValueError):
    """A publication that cannot be made: bad period, period not over, date outside the period…"""


class Published(NamedTuple):
    """What `publish_period` did: the publication of that number, and whether this call created it."""

    publication: Publication
    created: bool


# --- periods -------------------------------------------------------------------------------------


def period_kind(period: str) -> str:
    """`monthly` for `YYYY-MM`, `quarterly` for `YYYY-Qn`; anything else is refused with the rule."""
    if _MONTHLY_RE.fullmatch(period):
        return MONTHLY
    if _QUARTERLY_RE.fullmatch(period):
        return QUARTERLY
    raise PublicationError(f"期次「{period}」格式无效:须为 YYYY-MM(月度,如 2026-11)或 YYYY-Qn(季度,如 2026-Q4)")


def period_bounds(period: str) -> tuple[date, date]:
    """The first and the last day (both inclusive) of a `YYYY-MM` or `YYYY-Qn` period."""
    period = period.strip()
    if period_kind(period) == MONTHLY:
        year, month, months = int(period[:4]), int(period[5:7]), 1
    else:
        year, month, months = int(period[:4]), 3 * int(period[6]) - 2, 3
    if year < 1900:
        raise PublicationError(f"期次「{period}」的年份无效")
    start = date(year, month, 1)
    return start, add_months(start, months) - timedelta(days=1)


def period_of(day: date, kind: str) -> str:
    """The period of `kind` that contains `day`."""
    if kind == MONTHLY:
        return f"{day.year:04d}-{day.month:02d}"
    if kind == QUARTERLY:
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    raise PublicationError(f"发布周期须为 {' 或 '.join(PERIOD_KINDS)},实为「{kind}」")


def next_period(period: str) -> str:
    return period_of(period_bounds(period)[1] + timedelta(days=1), period_kind(period))


def last_ended_period(today: date, kind: str) -> str:
    """The newest period of `kind` that is over on `today` (the one before today's)."""
    return period_of(period_bounds(period_of(today, kind))[0] - timedelta(days=1), kind)


def periods_to_publish(session: Session, *, today: date, kind: str) -> list[str]:
    """The ended periods of `kind` not yet published, oldest first: every period after the newest one
    published, or — when none is — from the period of the first listing (else just the last ended period)."""
    last = last_ended_period(today, kind)
    published = [p for p in session.exec(select(Publication.period).distinct()).all() if _matches_kind(p, kind)]
    if published:
        start = next_period(max(published, key=lambda p: period_bounds(p)[1]))
    else:
        first = session.exec(
            select(func.min(Listing.listed_from)).where(
                col(Listing.status).in_([ListingStatus.listed, ListingStatus.removed])
            )
        ).one()
        start = period_of(first, kind) if first is not None and first.year >= 1900 else last
    periods: list[str] = []
    current = start
    while period_bounds(current)[1] < today:
        periods.append(current)
        current = next_period(current)
    return periods


def _matches_kind(period: str, kind: str) -> bool:
    try:
        return period_kind(period) == kind
    except PublicationError:
        return False


# --- serialising writers ---------------------------------------------------------------------------


def take_writer_lock(session: Session, name: str) -> None:
    """Make concurrent writers of `name` (two schedulers, a scheduler and the CLI) wait for each other until
    the end of the transaction. Call it first in the unit of work.

    PostgreSQL: a transaction-level advisory lock. SQLite: take the database's write lock now with a write
    that changes nothing, before anything is read — a transaction that reads first and then writes fails
    with SQLITE_BUSY when another writer committed meanwhile; one that writes first just waits (busy timeout)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"credit:{name}".encode()) - 2**31  # a signed 32-bit key, stable across processes
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif conn.dialect.name == "sqlite":
        conn.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))


# --- reading -------------------------------------------------------------------------------------


def get_publication(session: Session, number: str) -> Publication | None:
    return session.exec(select(Publication).where(Publication.number == number.strip())).first()


def list_publications(session: Session, *, limit: int | None = None) -> list[Publication]:
    """Every publication, the newest period first; within a period the newest correction first."""
    query = select(Publication).order_by(col(Publication.period_end).desc(), col(Publication.id).desc())
    if limit:
        query = query.limit(limit)
    return list(session.exec(query))


def latest_publication(session: Session) -> Publication | None:
    """The publication of the newest period (its latest correction when it has one), leaving out any that
    was withdrawn."""
    withdrawn = select(PublicationWithdrawal.publication_id)
    return session.exec(
        select(Publication)
        .where(col(Publication.id).not_in(withdrawn))
        .order_by(col(Publication.period_end).desc(), col(Publication.id).desc())
        .limit(1)
    ).first()


def withdrawal_of(session: Session, publication: Publication) -> PublicationWithdrawal | None:
    return session.exec(
        select(PublicationWithdrawal).where(PublicationWithdrawal.publication_id == publication.id)
    ).first()


def withdrawals(session: Session, ids: Sequence[int | None]) -> dict[int, PublicationWithdrawal]:
    """The withdrawals of these publications, by publication id (one query, for lists)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(
        select(PublicationWithdrawal).where(col(PublicationWithdrawal.publication_id).in_(wanted))
    ).all()
    return {row.publication_id: row for row in rows}


def recent_withdrawals(session: Session, *, limit: int = 20) -> list[tuple[PublicationWithdrawal, Publication]]:
    """The newest withdrawals with their publications (for the feed)."""
    return list(
        session.exec(
            select(PublicationWithdrawal, Publication)
            .join(Publication, col(Publication.id) == PublicationWithdrawal.publication_id)
            .order_by(col(PublicationWithdrawal.withdrawn_at).desc())
            .limit(limit)
        ).all()
    )


def withdraw_publication(
    session: Session, number: str, *, reason: str, withdrawn_by: str, on: date | None = None
) -> PublicationWithdrawal:
    """Withdraw (撤回) a publication made in error, with a reason. The publication and its entries stay as
    published (immutable); the withdrawal is a record of its own, at most one per publication. A withdrawn
    publication stays in the archive, marked, and drops out of "latest"; its period is not published again
    by the scheduler — publish a correction (`publish_correction`) when the period needs lists."""
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise PublicationError("撤回须说明理由")
    if len(reason) > 1000:
        raise PublicationError("撤回理由不能超过 1000 个字")
    publication = get_publication(session, number)
    if publication is None:
        raise PublicationError(f"没有编号为 {number} 的发布")
    existing = withdrawal_of(session, publication)
    if existing is not None:
        raise PublicationError(f"发布 {publication.number} 已于 {existing.withdrawn_on} 撤回")
    withdrawal = PublicationWithdrawal(
        publication_id=publication.id,  # type: ignore[arg-type]
        reason=reason,
        withdrawn_on=clock.check_not_future(on or clock.today(), field="撤回日期"),
        withdrawn_by=withdrawn_by[:120],
    )
    session.add(withdrawal)
    session.flush()
    return withdrawal


def numbers_by_id(session: Session, ids: Sequence[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(Publication.id, Publication.number).where(col(Publication.id).in_(wanted))).all()
    return {pid: number for pid, number in rows if pid is not None}


@dataclass(frozen=True)
class PublicationDetail:
    """A publication with its two lists, in published order, and its correction links."""

    publication: Publication
    red: list[PublicationEntry]
    black: list[PublicationEntry]
    corrects: str | None = None  # the number of the publication this one corrects
    corrected_by: list[str] = field(default_factory=list)  # numbers of the corrections of this one
    withdrawal: PublicationWithdrawal | None = None

    def entries(self) -> list[PublicationEntry]:
        return [*self.red, *self.black]


def correction_links(session: Session, publication: Publication) -> tuple[str | None, list[str]]:
    """The number of the publication this one corrects, and the numbers of its own corrections."""
    corrects = numbers_by_id(session, [publication.corrects_id]).get(publication.corrects_id or 0)
    corrected_by = session.exec(
        select(Publication.number).where(Publication.corrects_id == publication.id).order_by(col(Publication.id))
    ).all()
    return corrects, list(corrected_by)


def ended_early():
    """Listings the public may no longer see (credit.rules.listings.hidden_from_public: black ones removed
    by credit repair or an upheld objection, any whose basis was revoked). SPEC §2: after that the public
    pages show nothing of them — not even in past publications, whose stored entries stay untouched for
    the internal record. (A red entry lost to a negative event was red when published and stays so.)"""
    return select(Listing.id).where(hidden_from_public_sql(col(Listing.kind), col(Listing.end_code)))


def shown_publicly():
    """The condition on publication entries that the public may still see."""
    return col(PublicationEntry.listing_id).not_in(ended_early())


def public_counts(session: Session, publication: Publication) -> dict[str, int]:
    """Entries per list that the public may still see."""
    rows = session.exec(
        select(PublicationEntry.kind, func.count())
        .where(PublicationEntry.publication_id == publication.id, shown_publicly())
        .group_by(PublicationEntry.kind)
    ).all()
    return {kind: n for kind, n in rows}  # noqa: C416


def publication_detail(session: Session, publication: Publication, *, public: bool = True) -> PublicationDetail:
    """A publication with both of its lists loaded (for the public: without entries ended early)."""
    query = select(PublicationEntry).where(PublicationEntry.publication_id == publication.id)
    if public:
        query = query.where(shown_publicly())
    entries = session.exec(query.order_by(PublicationEntry.kind, PublicationEntry.position)).all()
    corrects, corrected_by = correction_links(session, publication)
    return PublicationDetail(
        publication=publication,
        red=[e for e in entries if e.kind == ListKind.red],
        black=[e for e in entries if e.kind == ListKind.black],
        corrects=corrects,
        corrected_by=corrected_by,
        withdrawal=withdrawal_of(session, publication),
    )


def entries_page(
    session: Session, publication: Publication, kind: str, *, page: int = 1, per_page: int = 200
) -> list[PublicationEntry]:
    """One page of one list of a publication, in published order."""
    return list(
        session.exec(
            select(PublicationEntry)
            .where(PublicationEntry.publication_id == publication.id, PublicationEntry.kind == kind, shown_publicly())
            .order_by(PublicationEntry.position)
            .offset((max(page, 1) - 1) * per_page)
            .limit(per_page)
        )
    )


def months_listed(listed_from: date, on: date) -> int:
    """Whole months an entry had been listed on `on` (how old it was at the snapshot)."""
    months = (on.year - listed_from.year) * 12 + on.month - listed_from.month
    return max(0, months - (1 if add_months(listed_from, months) > on else 0))


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
) -> Published:
    """Write publication `number` with every listing in force on `snapshot`, or return the one that exists.

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
    try:
        with session.begin_nested():
            session.add(publication)
            session.flush()
    except IntegrityError:
        winner = get_publication(session, number)
        if winner is None:
            raise
        return Published(winner, False)

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
            session.connection().execute(insert(table), batch)
            batch = []
    if batch:
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
    session.flush()
    return Published(publication, True)


def publish_period(
    session: Session,
    period: str,
    *,
    as_of: date | None = None,
    published_by: str,
    today: date | None = None,
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
    return _snapshot(session, number=period, period=period, snapshot=snapshot, published_by=published_by)


def publish_correction(session: Session, number: str, note: str, published_by: str) -> Publication:
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
    )
    if not result.created:  # cannot happen under the writer lock; refuse rather than mislabel
        raise PublicationError(f"更正编号 {new_number} 已被占用,请重试")
    return result.publication


# --- exports -------------------------------------------------------------------------------------

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


def _safe_cell(value: Any) -> Any:
    """Spreadsheets run a cell that starts with = + - @ as a formula: quote such text (OWASP CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def publication_csv(detail: PublicationDetail) -> bytes:
    """Both lists as CSV: UTF-8 with a byte-order mark (so Excel reads the Chinese), one header row
    naming each column in Chinese with its code, red entries first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_header())
    for entry in detail.entries():
        writer.writerow([_safe_cell(v) for v in _values(entry)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def publication_xlsx(detail: PublicationDetail) -> bytes:
    """Both lists as an Excel workbook: a sheet per list and a sheet describing the publication. The USCC
    column is text (an 18-character code, never a number)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    pub = detail.publication
    book = Workbook()
    about = book.active
    about.title = "说明"
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
    ):
        about.append([label, value])
    about.column_dimensions["A"].width = 22
    about.column_dimensions["B"].width = 40
    uscc_column = [code for code, _ in COLUMNS].index("uscc") + 1
    widths = {"A": 8, "B": 6, "C": 22, "D": 36, "E": 14, "F": 8, "G": 48, "H": 60, "I": 12, "J": 14}
    for kind, entries in ((ListKind.red, detail.red), (ListKind.black, detail.black)):
        sheet = book.create_sheet(KIND_LABELS[kind])
        sheet.append(_header())
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for entry in entries:
            sheet.append(_values(entry))
            row = sheet.max_row
            for cell in sheet[row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text is never a formula, whatever it starts with
            sheet.cell(row=row, column=uscc_column).number_format = "@"
        for letter, width in widths.items():
            sheet.column_dimensions[letter].width = width
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def entry_json(entry: PublicationEntry) -> dict[str, Any]:
    return {
        "position": entry.position,
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
    }
