"""What the public may see: the lists in force today and each firm's public records within their
visibility windows (SPEC §2 "Public records"). Nothing of a withdrawn proposal, an early-removed or
revoked listing, or a revoked event."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, func, select

from credit.models import (
    ChangeCounter,
    CreditEvent,
    EventStatus,
    Firm,
    Listing,
    ListKind,
    Petition,
    PetitionKind,
    PetitionStatus,
)
from credit.models.version import LISTS
from credit.rules.dates import add_months
from credit.rules.listings import public_candidates_sql, public_types, public_until
from credit.rules.ruleset import RuleSet
from credit.services.firm_search import escape_like
from credit.services.listings import in_force


@dataclass(frozen=True)
class ListedFirm:
    """What a list shows of a firm (plain values, so a page of a list can be kept between requests)."""

    id: int
    uscc: str
    name: str
    region: str


@dataclass(frozen=True)
class ListedEntry:
    """What a list shows of an entry."""

    id: int
    kind: str
    reason: str
    listed_from: date | None
    listed_until: date | None


@dataclass(frozen=True)
class PublicEntry:
    listing: ListedEntry
    firm: ListedFirm

    def months_listed(self, as_of: date) -> int:
        """Whole months since the entry was listed (how old it is)."""
        start = self.listing.listed_from or as_of
        months = (as_of.year - start.year) * 12 + as_of.month - start.month
        return months - (1 if add_months(start, months) > as_of else 0)


@dataclass(frozen=True)
class PublicList:
    entries: list[PublicEntry]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def lists_version(session: Session) -> int:
    """The change counter of the current lists (credit.models.version): the database raises it in the
    same transaction as any change of a listing or of the firm particulars a list shows. With today's
    date it names what the current lists show, so pages built from it can be kept until it moves.
    Read it before the data it stands for: a change committed in between then costs one more rebuild,
    never a stale page."""
    version = session.exec(select(ChangeCounter.version).where(ChangeCounter.name == LISTS)).first()
    return int(version or 0)


class ListCache:
    """Pages of the current lists by (lists version, day, what was asked), least recently used out.
    Plain values only; one per process (the web app keeps one), so a change made through another
    process shows at the next request of each: the version is read every time."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get_or_make(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        found = self.peek(key)
        if found is None:
            found = make()
            self.put(key, found)
        return found

    def peek(self, key: tuple[Any, ...]) -> Any:
        """The kept value (now the most recently used), or None."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        self._items[key] = value
        if len(self._items) > self._size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


def _entries_where(kind: ListKind, as_of: date, text: str, region: str) -> list[Any]:
    where = [Listing.kind == kind, in_force(as_of)]
    text = text.strip()
    if text:
        pattern = "%" + escape_like(text) + "%"
        where.append(
            or_(col(Firm.uscc).startswith(text.upper(), autoescape=True), col(Firm.name).like(pattern, escape="\\"))
        )
    if region:
        where.append(Firm.region == region)
    return where


def current_list(
    session: Session,
    kind: ListKind,
    as_of: date,
    *,
    text: str = "",
    region: str = "",
    page: int = 1,
    per_page: int = 50,
) -> PublicList:
    """One page of a list as in force on `as_of`, newest entries first (index ix_listing_kind_listed_from).
    Two statements: the count and the page, in plain Core rows."""
    where = _entries_where(kind, as_of, text, region)
    joined = sa.select(sa.literal(1)).select_from(Listing).join(Firm, col(Firm.id) == Listing.firm_id).where(*where)
    total = session.exec(select(func.count()).select_from(joined.subquery())).one()
    page = max(page, 1)
    rows = session.connection().execute(
        sa.select(
            col(Listing.id),
            col(Listing.kind),
            col(Listing.reason),
            col(Listing.listed_from),
            col(Listing.listed_until),
            col(Firm.id).label("firm_id"),
            col(Firm.uscc),
            col(Firm.name),
            col(Firm.region),
        )
        .join(Firm, col(Firm.id) == Listing.firm_id)
        .where(*where)
        .order_by(col(Listing.listed_from).desc(), col(Firm.name), col(Listing.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    entries = [
        PublicEntry(
            ListedEntry(r.id, r.kind, r.reason, r.listed_from, r.listed_until),
            ListedFirm(r.firm_id, r.uscc, r.name, r.region),
        )
        for r in rows
    ]
    return PublicList(entries, total, page, per_page)


def list_counts(session: Session, as_of: date) -> dict[str, int]:
    rows = session.exec(select(Listing.kind, func.count()).where(in_force(as_of)).group_by(Listing.kind)).all()
    return {kind: n for kind, n in rows}  # noqa: C416


def firm_listings(session: Session, firm_id: int, as_of: date) -> list[Listing]:
    """The firm's entries in force today, for its public page."""
    return list(session.exec(select(Listing).where(Listing.firm_id == firm_id, in_force(as_of)).order_by(Listing.kind)))


_firm_t = Firm.__table__  # type: ignore[attr-defined]
_listing_t = Listing.__table__  # type: ignore[attr-defined]
_event_t = CreditEvent.__table__  # type: ignore[attr-defined]
_DAY = sa.bindparam("day", type_=sa.Date)
_page_statements: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def _kept_statement(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """A statement built once per key and reused: SQLAlchemy keeps the compiled form of a statement
    object and its cache key, so a reused one costs neither again (building both cost more per page
    than the database did)."""
    found = _page_statements.get(key)
    if found is None:
        found = _page_statements[key] = build()
        if len(_page_statements) > 64:
            _page_statements.popitem(last=False)
    return found


def _firm_statement() -> Any:
    """(1) The firm of :uscc with its entries in force on :day, each flagged when under an open objection."""
    flag = _open_objection(listing_id=_listing_t.c.id).label("flagged")
    return (
        sa.select(
            _firm_t.c.id,
            _firm_t.c.uscc,
            _firm_t.c.name,
            _firm_t.c.region,
            _firm_t.c.industry,
            _firm_t.c.scale,
            _listing_t.c.id.label("listing_id"),
            _listing_t.c.kind,
            _listing_t.c.reason,
            _listing_t.c.listed_from,
            _listing_t.c.listed_until,
            flag,
        )
        .select_from(_firm_t.outerjoin(_listing_t, (_listing_t.c.firm_id == _firm_t.c.id) & in_force(_DAY)))
        .where(_firm_t.c.uscc == sa.bindparam("uscc"))
        .order_by(_listing_t.c.kind)
    )


def _records_statement(rules: RuleSet, as_of: date) -> Any:
    """(2) The effective events of :firm_id that may show on `as_of` under `rules`, newest first, each
    flagged when under an open objection (the cut-off days depend on the day: one statement a day)."""
    return (
        sa.select(
            _event_t.c.id,
            _event_t.c.event_type,
            _event_t.c.occurred_on,
            _event_t.c.document_no,
            _event_t.c.authority,
            _event_t.c.severity,
            _event_t.c.amount,
            _event_t.c.product,
            _event_t.c.valid_until,
            _open_objection(event_id=_event_t.c.id).label("flagged"),
        )
        .where(
            _event_t.c.firm_id == sa.bindparam("firm_id"),
            _event_t.c.status == EventStatus.effective,
            _event_t.c.event_type.in_(public_types(rules)),
            _event_t.c.occurred_on <= as_of,
            public_candidates_sql(_event_t, rules, as_of),
        )
        .order_by(_event_t.c.occurred_on.desc())
    )


@dataclass(frozen=True)
class PublicFirm:
    id: int
    uscc: str
    name: str
    region: str
    industry: str
    scale: str


@dataclass(frozen=True)
class PublicRecord:
    """What the public page shows of an event (no internal fields)."""

    id: int
    event_type: str
    occurred_on: date
    document_no: str
    authority: str
    severity: str | None
    amount: Any
    product: str
    valid_until: date | None


@dataclass(frozen=True)
class FirmPublicPage:
    """Everything the public page of a firm shows, read in two statements."""

    firm: PublicFirm
    listings: list[ListedEntry]
    records: list[tuple[PublicRecord, date]]
    flagged_events: set[int]
    flagged_listings: set[int]


def _open_objection(**match: Any) -> ColumnElement[bool]:
    return sa.exists().where(
        *(getattr(Petition, name) == value for name, value in match.items()),
        Petition.kind == PetitionKind.objection,
        Petition.status == PetitionStatus.open,
    )


def firm_public_page(session: Session, uscc: str, as_of: date, rules: RuleSet) -> FirmPublicPage | None:
    """The firm with this USCC as its public page shows it on `as_of`, or None, in two statements, each
    built once and read as plain rows: (1) the firm with its entries in force and whether each is under
    an open objection, (2) its public records with the same flag (SPEC §2 "Public records")."""
    conn = session.connection()
    rows = conn.execute(_kept_statement(("firm",), _firm_statement), {"uscc": uscc, "day": as_of}).all()
    if not rows:
        return None
    first = rows[0]
    firm = PublicFirm(first.id, first.uscc, first.name, first.region, first.industry, first.scale)
    listings = [
        ListedEntry(r.listing_id, r.kind, r.reason, r.listed_from, r.listed_until)
        for r in rows
        if r.listing_id is not None
    ]
    flagged_listings = {r.listing_id for r in rows if r.listing_id is not None and r.flagged}
    records, flagged_events = _public_records(session, firm.id, as_of, rules)
    return FirmPublicPage(firm, listings, records, flagged_events, flagged_listings)


def visible_until(event: CreditEvent | PublicRecord, rules: RuleSet) -> date | None:
    """The first day a record no longer shows on the public page; None when it never shows."""
    return public_until(
        event_type=event.event_type,
        severity=event.severity,
        occurred_on=event.occurred_on,
        amount=float(event.amount) if event.amount is not None else None,
        valid_until=event.valid_until,
        rules=rules,
    )


def public_records(session: Session, firm_id: int, as_of: date, rules: RuleSet) -> list[tuple[PublicRecord, date]]:
    """Effective penalties, spot-check failures and honours still within their public window (every window
    from the rule set: credit.rules.listings.public_until), newest first."""
    return _public_records(session, firm_id, as_of, rules)[0]


def _public_records(
    session: Session, firm_id: int, as_of: date, rules: RuleSet
) -> tuple[list[tuple[PublicRecord, date]], set[int]]:
    """The public records, and the ids of those under an open objection: one statement."""
    statement = _kept_statement(
        ("records", rules.version, as_of), lambda: _records_statement(rules, as_of)
    )  # versions never change
    shown = []
    flagged: set[int] = set()
    for row in session.connection().execute(statement, {"firm_id": firm_id}):
        record = PublicRecord(*row[:-1])
        until = visible_until(record, rules)
        if until is not None and as_of < until:
            shown.append((record, until))
            if row.flagged:
                flagged.add(record.id)
    return shown, flagged
