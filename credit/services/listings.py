"""List entries kept in step with assessments: black-list proposals when a trigger holds, red listing
while a firm is eligible, removals when the facts behind an entry change (SPEC §2)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from credit.models import CreditEvent, EventStatus, Listing, ListingStatus, ListKind
from credit.rules.dates import add_months, add_working_days
from credit.rules.evaluate import Assessment, EventFact, evaluate
from credit.rules.ruleset import RuleSet

OPEN = (ListingStatus.proposed, ListingStatus.listed)


def in_force(day: date):
    """The SQL condition of an entry in force on `day`, judged by its dates: listed by then, its term not
    over and not ended early by then (a proposal or a withdrawn one never was)."""
    return (
        col(Listing.status).in_([ListingStatus.listed, ListingStatus.removed])
        & col(Listing.listed_from).is_not(None)
        & (col(Listing.listed_from) <= day)
        & or_(col(Listing.listed_until).is_(None), col(Listing.listed_until) > day)
        & or_(col(Listing.ended_on).is_(None), col(Listing.ended_on) > day)
    )


def in_force_or_proposed(day: date):
    """What a checking department is told about: entries in force, and proposals open on `day`."""
    return or_(in_force(day), (Listing.status == ListingStatus.proposed) & (col(Listing.proposed_on) <= day))


def open_listing(session: Session, firm_id: int, kind: ListKind) -> Listing | None:
    """The firm's proposed or listed entry on that list, if any (there is at most one)."""
    return session.exec(
        select(Listing).where(Listing.firm_id == firm_id, Listing.kind == kind, col(Listing.status).in_(OPEN))
    ).first()


def trigger_reason(rules: RuleSet, codes: list[str] | tuple[str, ...]) -> str:
    labels = {t.code: t.label for t in rules.triggers}
    return ";".join(labels.get(code, code) for code in codes)


def black_basis(rules: RuleSet, triggers: list[str] | tuple[str, ...], as_of: date) -> dict:
    return {"triggers": list(triggers), "as_of": as_of.isoformat(), "rule_set_version": rules.version}


def trigger_types(rules: RuleSet) -> list[str]:
    return sorted({t for trigger in rules.triggers for t in trigger.types})


def newest_trigger_event(session: Session, firm_id: int, rules: RuleSet) -> int | None:
    """The id of the firm's newest effective event of a type some black-list trigger counts."""
    return session.exec(
        select(func.max(CreditEvent.id)).where(
            CreditEvent.firm_id == firm_id,
            CreditEvent.status == EventStatus.effective,
            col(CreditEvent.event_type).in_(trigger_types(rules)),
        )
    ).one()


def last_covered(session: Session, firm_id: int) -> int:
    """The newest triggering event any black entry of the firm, open or ended, answered for."""
    return (
        session.exec(
            select(func.max(Listing.covers_event_id)).where(Listing.firm_id == firm_id, Listing.kind == ListKind.black)
        ).one()
        or 0
    )


def propose_black(
    session: Session, firm_id: int, triggers: tuple[str, ...], as_of: date, rules: RuleSet
) -> Listing | None:
    """A proposed black listing with its notice deadline (10 working days by default), dated `as_of` —
    unless an entry, open or ended, already answers for the newest triggering event."""
    newest = newest_trigger_event(session, firm_id, rules)
    if newest is None or newest <= last_covered(session, firm_id):
        return None
    listing = Listing(
        covers_event_id=newest,
        firm_id=firm_id,
        kind=ListKind.black,
        status=ListingStatus.proposed,
        reason=trigger_reason(rules, triggers),
        basis=black_basis(rules, triggers, as_of),
        rule_set_version=rules.version,
        proposed_on=as_of,
        deadline=add_working_days(as_of, rules.black.objection_working_days, rules.black.holidays),
    )
    session.add(listing)
    session.flush()
    return listing


def red_reason(rules: RuleSet) -> str:
    red = rules.red
    return (
        f"{red.grade} 级守信企业,{red.no_negative_months} 个月内无失信记录,"
        f"获有效质量奖或名牌产品,或 {red.passes_months} 个月内监督抽查合格 {red.passes_min} 次以上"
    )


def sync_listings(session: Session, firm_id: int, result: Assessment, rules: RuleSet) -> None:
    """Bring one firm's list entries in line with its assessment on `result.as_of`: propose a black
    listing when a trigger holds and none is open; list or renew the red listing while eligible."""
    as_of = result.as_of
    if result.triggers and open_listing(session, firm_id, ListKind.black) is None:
        propose_black(session, firm_id, result.triggers, as_of, rules)
    red = open_listing(session, firm_id, ListKind.red)
    if result.red_eligible:
        until = add_months(as_of, rules.red.list_months)
        if red is None:
            session.add(
                Listing(
                    firm_id=firm_id,
                    kind=ListKind.red,
                    status=ListingStatus.listed,
                    reason=red_reason(rules),
                    basis={
                        "criteria": list(result.criteria),
                        "as_of": as_of.isoformat(),
                        "rule_set_version": rules.version,
                    },
                    rule_set_version=rules.version,
                    listed_from=as_of,
                    listed_until=until,
                )
            )
            session.flush()
        elif red.listed_until is None or red.listed_until < until:
            red.listed_until = until  # renewed while it stays eligible
            session.add(red)
            session.flush()


def end_listing(session: Session, listing: Listing, on: date, reason: str) -> None:
    """A proposal is withdrawn, a listing removed; the entry stays with the date and reason."""
    listing.status = ListingStatus.withdrawn if listing.status == ListingStatus.proposed else ListingStatus.removed
    listing.ended_on = on
    listing.end_reason = reason[:1000]
    session.add(listing)
    session.flush()


def remove_red_for_negative(session: Session, firm_id: int, on: date, event_id: int) -> None:
    """动态调整: the day a negative event becomes effective, the firm leaves the red list."""
    red = open_listing(session, firm_id, ListKind.red)
    if red is not None:
        end_listing(session, red, on, f"负面记录生效(事件 #{event_id}),移出红榜")


def review_black_after_revocation(
    session: Session, firm_id: int, facts: list[EventFact], rules: RuleSet, on: date, event_id: int
) -> None:
    """When an event is revoked, an open black entry whose triggers no longer hold on its own date ends
    at once (SPEC §2: removed when the triggering event is revoked)."""
    black = open_listing(session, firm_id, ListKind.black)
    if black is None:
        return
    dated = date.fromisoformat(black.basis.get("as_of") or black.proposed_on.isoformat())  # type: ignore[union-attr]
    still = set(evaluate(facts, dated, rules).triggers) & set(black.basis.get("triggers") or ())
    if not still:
        end_listing(session, black, on, f"据以列入的记录已撤销(事件 #{event_id})")


def expire_listings(session: Session, as_of: date) -> int:
    """End every listing whose term is over on `as_of` (the until date is the first day out of force)."""
    due = session.exec(
        select(Listing).where(
            Listing.status == ListingStatus.listed,
            col(Listing.listed_until).is_not(None),
            col(Listing.listed_until) <= as_of,
        )
    ).all()
    for listing in due:
        end_listing(session, listing, listing.listed_until or as_of, "期满移出")
    return len(due)
