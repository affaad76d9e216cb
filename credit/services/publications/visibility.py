"""What the public may still see of a publication (SPEC §2): entries ended early disappear from every
public page, past publications included, while the stored entries stay untouched."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from credit.models import Listing, ListKind, Publication, PublicationEntry
from credit.rules.dates import add_months
from credit.rules.listings import hidden_from_public_sql
from credit.services.publications.reading import PublicationDetail, correction_links, seal_of, withdrawal_of


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


def public_state(session: Session, publication: Publication) -> str:
    """A digest of what the public may see of `publication`, which changes only when that does: an entry
    hidden after the fact (ended early), a correction naming it, its withdrawal. The stored exports and
    the ETags of its pages are keyed by it. Reads the few hidden listings through ix_listing_end_code and
    ix_publication_entry_listing_id, never the whole publication."""
    hidden = session.exec(
        select(PublicationEntry.id)
        .where(PublicationEntry.publication_id == publication.id, col(PublicationEntry.listing_id).in_(ended_early()))
        .order_by(col(PublicationEntry.id))
    ).all()
    corrects, corrected_by = correction_links(session, publication)
    withdrawal = withdrawal_of(session, publication)
    state = [publication.id, publication.number, list(hidden), corrects, corrected_by, withdrawal and withdrawal.id]
    return hashlib.sha256(json.dumps(state, separators=(",", ":")).encode()).hexdigest()[:32]


def publication_detail(session: Session, publication: Publication, *, public: bool = True) -> PublicationDetail:
    """A publication with both of its lists loaded (for the public: without entries ended early)."""
    table = PublicationEntry.__table__  # type: ignore[attr-defined]
    query = sa.select(table).where(table.c.publication_id == publication.id)
    if public:
        query = query.where(shown_publicly())
    # Core rows (read like entries: row.uscc, row.position…): a period may list tens of thousands of firms.
    entries = session.connection().execute(query.order_by(table.c.kind, table.c.position)).all()
    corrects, corrected_by = correction_links(session, publication)
    return PublicationDetail(
        publication=publication,
        red=[e for e in entries if e.kind == ListKind.red],
        black=[e for e in entries if e.kind == ListKind.black],
        corrects=corrects,
        corrected_by=corrected_by,
        withdrawal=withdrawal_of(session, publication),
        seal=seal_of(session, publication),
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
