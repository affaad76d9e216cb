"""The confirmation queue of announced names that did not match the register exactly: a recorder picks
the firm, registers it (with the USCC the recorder looked up), or says it is outside the bureau's
jurisdiction (the referral list). The decision covers every waiting row that spells the name so, is
remembered for the next announcement, and the rows' events join their announcement's batch, pending
review like any import."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import func
from sqlmodel import Session, col, select

from credit.announcements.names import clean, name_key
from credit.models import (
    Announcement,
    AnnouncementParty,
    AnnouncementRow,
    CreditEvent,
    Firm,
    FirmCreate,
    ImportBatch,
    NameAlias,
    PartyState,
    User,
    utcnow,
)
from credit.models.announcement import OPEN_STATES
from credit.reference import REGIONS
from credit.services.announcements import AnnouncementError, event_template
from credit.services.events import build_event, find_by_key
from credit.services.firms import create_firm

OPEN = [s.value for s in OPEN_STATES]


@dataclass
class WaitingName:
    """One spelling on the queue: where it appears and the candidates found for it."""

    name_key: str
    name: str
    rows: int
    state: str
    roles: list[str] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    announcements: list[str] = field(default_factory=list)
    address: str = ""


def waiting_names(
    session: Session, *, announcement_id: int | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[WaitingName], int]:
    """A page of the queue (one entry per normalised name, oldest first) and the number of names on it."""
    where = [col(AnnouncementParty.state).in_(OPEN)]
    if announcement_id is not None:
        where.append(AnnouncementParty.announcement_id == announcement_id)
    total = session.exec(select(func.count(func.distinct(AnnouncementParty.name_key))).where(*where)).one()
    page = session.exec(
        select(AnnouncementParty.name_key, func.count(), func.min(AnnouncementParty.id))
        .where(*where)
        .group_by(AnnouncementParty.name_key)
        .order_by(func.min(AnnouncementParty.id))
        .offset(offset)
        .limit(limit)
    ).all()
    firsts = {pid: (key, count) for key, count, pid in page}
    items: dict[str, WaitingName] = {}
    if firsts:
        parties = session.exec(select(AnnouncementParty).where(col(AnnouncementParty.id).in_(list(firsts)))).all()
        for party in sorted(parties, key=lambda p: p.id or 0):
            key, count = firsts[party.id]  # type: ignore[index]
            items[key] = WaitingName(
                name_key=key,
                name=party.name,
                rows=count,
                state=party.state,
                candidates=list(party.candidates),
                address=party.address,
            )
        details = session.exec(
            select(
                AnnouncementParty.name_key,
                AnnouncementParty.role,
                AnnouncementRow.product,
                Announcement.authority,
                Announcement.number,
                Announcement.published_on,
            )
            .join(AnnouncementRow, col(AnnouncementRow.id) == AnnouncementParty.row_id)
            .join(Announcement, col(Announcement.id) == AnnouncementParty.announcement_id)
            .where(*where, col(AnnouncementParty.name_key).in_(list(items)))
            .order_by(AnnouncementParty.id)
            .limit(limit * 20)  # examples only: a chain store's spelling may wait on thousands of rows
        ).all()
        for key, role, product, authority, number, published_on in details:
            item = items[key]
            if role not in item.roles:
                item.roles.append(role)
            if product and product not in item.products and len(item.products) < 3:
                item.products.append(product)
            label = f"{authority} {number or published_on.isoformat()}"
            if label not in item.announcements and len(item.announcements) < 3:
                item.announcements.append(label)
    return [items[key] for key, _, _ in page if key in items], total


def _waiting(session: Session, key: str) -> list[AnnouncementParty]:
    parties = session.exec(
        select(AnnouncementParty)
        .where(AnnouncementParty.name_key == key, col(AnnouncementParty.state).in_(OPEN))
        .order_by(AnnouncementParty.id)
    ).all()
    if not parties:
        raise AnnouncementError(f"队列中没有待确认的名称「{key}」（可能已由他人处理）")
    return list(parties)


def _remember(session: Session, key: str, name: str, firm: Firm | None, recorder: User, note: str) -> None:
    alias = session.exec(select(NameAlias).where(NameAlias.name_key == key)).first()
    if firm is not None and alias is None and name_key(firm.name) == key:
        return  # the registered name itself: it matches exactly next time without an alias
    if alias is None:
        alias = NameAlias(name_key=key, name=name[:200], decided_by_id=recorder.id)  # type: ignore[arg-type]
    alias.firm_id = firm.id if firm is not None else None
    alias.note = note.strip()[:500]
    alias.decided_by_id = recorder.id  # type: ignore[assignment]
    alias.decided_at = utcnow()
    session.add(alias)


@dataclass
class Decision:
    """What one decision on the queue did."""

    parties: int = 0
    events_created: int = 0
    batches: set[int] = field(default_factory=set)


def confirm_name(session: Session, key: str, firm: Firm, *, recorder: User, note: str = "") -> Decision:
    """This spelling is `firm`: every waiting row that spells it so gets its event (pending, in its
    announcement's batch, recorded by `recorder`), and the spelling is remembered."""
    if not recorder.has_role("recorder"):
        raise AnnouncementError(f"{recorder.username} 不是录入员")
    if firm.region not in REGIONS:
        raise AnnouncementError(f"{firm.name} 不在本局辖区（{firm.region}），不能记入信用档案")
    parties = _waiting(session, key)
    decision = Decision(parties=len(parties))
    now = utcnow()
    for party in parties:
        row = session.get(AnnouncementRow, party.row_id)
        announcement = session.get(Announcement, party.announcement_id)
        assert row is not None and announcement is not None
        values = {
            "event_type": row.event_type,
            "severity": row.severity,
            "product": row.product,
            "document_no": row.document_no,
            "description": row.description,
        }
        data = replace(event_template(announcement.authority, announcement.published_on, values), uscc=firm.uscc)
        event = find_by_key(session, firm.id, data.event_type, data.document_no)  # type: ignore[arg-type]
        if event is None:
            event = build_event(session, data, firm=firm)
            event.source = "import"
            event.import_batch_id = announcement.import_batch_id
            event.recorded_by_id = recorder.id
            event.failed_item, event.failed_result, event.failed_limit = (
                row.failed_item,
                row.failed_result,
                row.failed_limit,
            )
            session.add(event)
            session.flush()
            batch = session.get(ImportBatch, announcement.import_batch_id)
            assert batch is not None
            batch.created += 1
            session.add(batch)
            decision.events_created += 1
            decision.batches.add(batch.id)  # type: ignore[arg-type]
        party.state = PartyState.confirmed
        party.firm_id = firm.id
        party.event_id = event.id
        party.decided_by_id = recorder.id
        party.decided_at = now
        party.note = note.strip()[:500]
        session.add(party)
    _remember(session, key, parties[0].name, firm, recorder, note)
    session.flush()
    return decision


def register_and_confirm(session: Session, key: str, data: FirmCreate, *, recorder: User) -> tuple[Firm, Decision]:
    """Register the firm an announcement names (its USCC looked up by the recorder), then confirm."""
    _waiting(session, key)  # refuse before registering anything
    firm = create_firm(session, data)
    return firm, confirm_name(session, key, firm, recorder=recorder, note="登记新企业")


def mark_outside(session: Session, key: str, *, recorder: User, note: str = "") -> Decision:
    """This spelling is not a firm of the bureau's jurisdiction: its rows go on the referral list (for
    the competent bureau) and get no event; the decision is remembered."""
    if not recorder.has_role("recorder"):
        raise AnnouncementError(f"{recorder.username} 不是录入员")
    parties = _waiting(session, key)
    now = utcnow()
    for party in parties:
        party.state = PartyState.outside
        party.decided_by_id = recorder.id
        party.decided_at = now
        party.note = note.strip()[:500]
        session.add(party)
    _remember(session, key, parties[0].name, None, recorder, note)
    session.flush()
    return Decision(parties=len(parties))


@dataclass(frozen=True)
class Referral:
    """A result about a firm outside the jurisdiction, to forward to the competent bureau."""

    party_id: int
    name: str
    role: str
    address: str
    product: str
    event_type: str
    failed_item: str
    failed_result: str
    failed_limit: str
    announcement: str
    published_on: str
    document_no: str
    note: str


def referrals(
    session: Session, *, failures_only: bool = False, limit: int | None = 500, offset: int = 0
) -> list[Referral]:
    """The referral list, newest announcement first."""
    query = (
        select(AnnouncementParty, AnnouncementRow, Announcement)
        .join(AnnouncementRow, col(AnnouncementRow.id) == AnnouncementParty.row_id)
        .join(Announcement, col(Announcement.id) == AnnouncementParty.announcement_id)
        .where(AnnouncementParty.state == PartyState.outside)
        .order_by(col(Announcement.published_on).desc(), AnnouncementParty.id)
        .offset(offset)
    )
    if failures_only:
        query = query.where(AnnouncementRow.event_type == "spot_check_fail")
    if limit is not None:
        query = query.limit(limit)
    return [
        Referral(
            party_id=party.id,  # type: ignore[arg-type]
            name=party.name,
            role=party.role,
            address=party.address,
            product=row.product,
            event_type=row.event_type,
            failed_item=row.failed_item,
            failed_result=row.failed_result,
            failed_limit=row.failed_limit,
            announcement=clean(f"{announcement.publisher} {announcement.number}"),
            published_on=announcement.published_on.isoformat(),
            document_no=row.document_no,
            note=party.note,
        )
        for party, row, announcement in session.exec(query).all()
    ]


def firm_for_pick(session: Session, uscc_or_id: str) -> Firm | None:
    """The firm a recorder picked: by id (a candidate) or by USCC (any registered firm)."""
    text = uscc_or_id.strip().upper()
    if text.isdigit() and len(text) < 18:
        return session.get(Firm, int(text))
    return session.exec(select(Firm).where(Firm.uscc == text)).first()


def events_of(session: Session, batch_id: int) -> int:
    """Events in a batch (for pages)."""
    return session.exec(
        select(func.count()).select_from(CreditEvent).where(CreditEvent.import_batch_id == batch_id)
    ).one()
