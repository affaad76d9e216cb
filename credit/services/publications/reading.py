"""Reading the archive of publications: by number, newest first, corrections and withdrawals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col, select

from credit import clock
from credit.models import Publication, PublicationEntry, PublicationSeal, PublicationWithdrawal
from credit.services.publications.periods import PublicationError

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


def seal_of(session: Session, publication: Publication) -> PublicationSeal | None:
    """The publication's seal (None only for a publication whose seal was removed: `verify` says so)."""
    return session.exec(select(PublicationSeal).where(PublicationSeal.publication_id == publication.id)).first()


def seals(session: Session, ids: Sequence[int | None]) -> dict[int, PublicationSeal]:
    """The seals of these publications, by publication id (one query, for the feed)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(PublicationSeal).where(col(PublicationSeal.publication_id).in_(wanted))).all()
    return {row.publication_id: row for row in rows}


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
    seal: PublicationSeal | None = None  # digest, anchor and signature (seals.py)

    def entries(self) -> list[PublicationEntry]:
        return [*self.red, *self.black]


def correction_links(session: Session, publication: Publication) -> tuple[str | None, list[str]]:
    """The number of the publication this one corrects, and the numbers of its own corrections."""
    corrects = numbers_by_id(session, [publication.corrects_id]).get(publication.corrects_id or 0)
    corrected_by = session.exec(
        select(Publication.number).where(Publication.corrects_id == publication.id).order_by(col(Publication.id))
    ).all()
    return corrects, list(corrected_by)
