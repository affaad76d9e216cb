"""What the public may see: the lists in force today and each firm's public records within their
visibility windows (SPEC §2 "Public records"). Nothing of a withdrawn proposal, an early-removed or
revoked listing, or a revoked event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from credit.models import CreditEvent, EventStatus, Firm, Listing, ListKind
from credit.rules.dates import add_months, cutoff
from credit.rules.ruleset import RuleSet
from credit.services.listings import in_force

AWARD_TYPES = ("award_national", "award_provincial", "award_municipal", "famous_brand")


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
    public = rules.public
    if event.event_type == "penalty":
        small = event.amount is not None and event.amount < Decimal(public.penalty_small_below)
        return add_months(event.occurred_on, public.penalty_small_months if small else public.penalty_months)
    if event.event_type == "spot_check_fail":
        return add_months(event.occurred_on, public.spot_check_fail_months)
    if event.event_type in AWARD_TYPES:
        rule = rules.rule_for(event.event_type, event.severity)
        if rule is None:
            return None
        if rule.until_valid and event.valid_until is not None:
            return event.valid_until
        return add_months(event.occurred_on, rule.months or 0)
    return None


def public_records(session: Session, firm_id: int, as_of: date, rules: RuleSet) -> list[tuple[CreditEvent, date]]:
    """Effective penalties, spot-check failures and awards still within their public window, newest first."""
    earliest = cutoff(as_of, max(rules.public.penalty_months, rules.public.spot_check_fail_months, 60))
    events = session.exec(
        select(CreditEvent)
        .where(
            CreditEvent.firm_id == firm_id,
            CreditEvent.status == EventStatus.effective,
            col(CreditEvent.event_type).in_(["penalty", "spot_check_fail", *AWARD_TYPES]),
            col(CreditEvent.occurred_on) <= as_of,
            col(CreditEvent.occurred_on) > earliest,
        )
        .order_by(col(CreditEvent.occurred_on).desc())
    ).all()
    shown = []
    for event in events:
        until = visible_until(event, rules)
        if until is not None and as_of < until:
            shown.append((event, until))
    return shown
