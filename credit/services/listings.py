"""List entries kept in step with assessments, one firm at a time: black-list proposals when a trigger
holds, red listing while a firm is eligible, removals when the facts behind an entry change (SPEC §2).

The rules themselves live in credit.rules.listings; the city-wide path (credit.services.assessment.
assess_all) applies the same rules set-based, and tests hold the two to the same listings."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from credit.models import CreditEvent, EventStatus, Listing, ListingStatus, ListKind
from credit.rules.evaluate import Assessment, EventFact, evaluate
from credit.rules.listings import (
    END_LABELS,
    EndCode,
    black_basis,
    proposal_due,
    red_basis,
    red_reason,
    red_step,
    still_holds_after_revocation,
    trigger_reason,
    trigger_types,
)
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
    """A proposed black listing dated `as_of`, when `proposal_due` says so. Its notice still has to be
    served (credit.services.due_process.serve_notice): the objection period runs from service."""
    newest = newest_trigger_event(session, firm_id, rules)
    open_black = open_listing(session, firm_id, ListKind.black) is not None
    if not proposal_due(
        triggers=triggers, open_black=open_black, newest_trigger_event=newest, covered=last_covered(session, firm_id)
    ):
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
    )
    session.add(listing)
    session.flush()
    return listing


def sync_listings(session: Session, firm_id: int, result: Assessment, rules: RuleSet) -> None:
    """Bring one firm's list entries in line with its assessment on `result.as_of`: propose a black
    listing when the rules say so; list or renew the red listing while eligible."""
    as_of = result.as_of
    if result.triggers:
        propose_black(session, firm_id, result.triggers, as_of, rules)
    red = open_listing(session, firm_id, ListKind.red)
    step = red_step(
        eligible=result.red_eligible,
        open_red=red is not None,
        open_until=red.listed_until if red is not None else None,
        as_of=as_of,
        rules=rules,
    )
    if step is None:
        return
    if step.action == "list":
        session.add(
            Listing(
                firm_id=firm_id,
                kind=ListKind.red,
                status=ListingStatus.listed,
                reason=red_reason(rules),
                basis=red_basis(result.red_basis, as_of, rules),
                rule_set_version=rules.version,
                listed_from=as_of,
                listed_until=step.listed_until,
            )
        )
    else:
        red.listed_until = step.listed_until  # type: ignore[union-attr]  # renewed while it stays eligible
        session.add(red)
    session.flush()


def end_listing(session: Session, listing: Listing, on: date, code: EndCode, detail: str = "") -> None:
    """A proposal is withdrawn, a listing removed; the entry stays, with the date, the end code (for logic)
    and the reason (for people: the code's label, then the detail)."""
    listing.status = ListingStatus.withdrawn if listing.status == ListingStatus.proposed else ListingStatus.removed
    listing.ended_on = on
    listing.end_code = code.value
    label = END_LABELS[code]
    listing.end_reason = (f"{label}:{detail}" if detail else label)[:1000]
    session.add(listing)
    session.flush()


def remove_red_for_negative(session: Session, firm_id: int, on: date, event_id: int) -> None:
    """动态调整: the day a negative event becomes effective, the firm leaves the red list."""
    red = open_listing(session, firm_id, ListKind.red)
    if red is not None:
        end_listing(session, red, on, EndCode.negative_event, f"事件 #{event_id}")


def basis_on(listing: Listing) -> date:
    """The date an entry's basis was assessed on."""
    raw = (listing.basis or {}).get("as_of")
    if raw:
        return date.fromisoformat(str(raw))
    return listing.proposed_on or listing.listed_from or listing.created_at.date()


def review_after_revocation(
    session: Session, firm_id: int, facts: list[EventFact], rules: RuleSet, on: date, event_id: int
) -> None:
    """When an event is revoked, every open entry of the firm that no longer rests on anything — a black
    entry none of whose triggers holds on its own date, a red one whose firm was then no longer eligible —
    ends at once (SPEC §2: removed when the triggering event is revoked), as if it never was."""
    for kind in (ListKind.black, ListKind.red):
        entry = open_listing(session, firm_id, kind)
        if entry is None:
            continue
        result = evaluate(facts, basis_on(entry), rules)
        if not still_holds_after_revocation(kind.value, entry.basis or {}, result):
            end_listing(session, entry, on, EndCode.basis_revoked, f"事件 #{event_id}")


def expire_listings(session: Session, as_of: date) -> int:
    """End every listing whose term is over on `as_of` (credit.rules.listings.expires: the until date is the
    first day out of force)."""
    due = session.exec(
        select(Listing).where(
            Listing.status == ListingStatus.listed,
            col(Listing.listed_until).is_not(None),
            col(Listing.listed_until) <= as_of,
        )
    ).all()
    for listing in due:
        end_listing(session, listing, listing.listed_until or as_of, EndCode.expired)
    return len(due)
