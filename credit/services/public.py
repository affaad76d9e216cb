"""What the public may see: the lists in force today and each firm's public records within their
visibility windows (SPEC §2 "Public records"). Nothing of a withdrawn proposal, an early-removed or
revoked listing, or a revoked event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from credit.models import CreditEvent, EventStatus, Firm, Listing, ListKind
from credit.rules.dates import add_months
from credit.rules.listings import public_candidates_sql, public_types, public_until
from credit.rules.ruleset import RuleSet
from credit.services.listings import in_force


@dataclass(frozen=True)
class PublicEntry:
    listing: Listing
    firm: Firm

    def months_listed(self, as_of: date) -> int:
        """Whole months since the entry was listed (how old it is)."""
        start = self.listing.listed_from or as_of
        months = (as_of.year - start.year) * 12 + as_of.month - start.month
        return months - (1 if add_months(start, months) > as_of else 0)


@dataclass
class PublicList:
    entries: list[PublicEntry]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


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
    """One page of a list as in force on `as_of`, newest entries first."""
    where = [Listing.kind == kind, in_force(as_of)]
    if text.strip():
        where.append(or_(col(Firm.uscc).startswith(text.strip().upper()), col(Firm.name).contains(text.strip())))
    if region:
        where.append(Firm.region == region)
    base = select(Listing, Firm).join(Firm, Firm.id == Listing.firm_id).where(*where)  # type: ignore[arg-type]
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(
        base.order_by(col(Listing.listed_from).desc(), Firm.name).offset((max(page, 1) - 1) * per_page).limit(per_page)
    ).all()
    return PublicList([PublicEntry(listing, firm) for listing, firm in rows], total, max(page, 1), per_page)


def list_counts(session: Session, as_of: date) -> dict[str, int]:
    rows = session.exec(select(Listing.kind, func.count()).where(in_force(as_of)).group_by(Listing.kind)).all()
    return {kind: n for kind, n in rows}  # noqa: C416


def firm_listings(session: Session, firm_id: int, as_of: date) -> list[Listing]:
    """The firm's entries in force today, for its public page."""
    return list(session.exec(select(Listing).where(Listing.firm_id == firm_id, in_force(as_of)).order_by(Listing.kind)))


def visible_until(event: CreditEvent, rules: RuleSet) -> date | None:
    """The first day a record no longer shows on the public page; None when it never shows."""
    return public_until(
        event_type=event.event_type,
        severity=event.severity,
        occurred_on=event.occurred_on,
        amount=float(event.amount) if event.amount is not None else None,
        valid_until=event.valid_until,
        rules=rules,
    )


def public_records(session: Session, firm_id: int, as_of: date, rules: RuleSet) -> list[tuple[CreditEvent, date]]:
    """Effective penalties, spot-check failures and honours still within their public window (every window
    from the rule set: credit.rules.listings.public_until), newest first."""
    table = CreditEvent.__table__  # type: ignore[attr-defined]
    events = session.exec(
        select(CreditEvent)
        .where(
            CreditEvent.firm_id == firm_id,
            CreditEvent.status == EventStatus.effective,
            col(CreditEvent.event_type).in_(public_types(rules)),
            col(CreditEvent.occurred_on) <= as_of,
            public_candidates_sql(table, rules, as_of),
        )
        .order_by(col(CreditEvent.occurred_on).desc())
    ).all()
    shown = []
    for event in events:
        until = visible_until(event, rules)
        if until is not None and as_of < until:
            shown.append((event, until))
    return shown
