"""Due process of the lists (SPEC §2 "Black listing", "Objection and credit repair"): a reviewer decides a
black-list proposal after its notice period (or at once when the firm waived it), objections and
credit-repair applications are filed and decided with reasons. Every step is dated and names who took it;
nothing is deleted — an entry ends with a date and a reason, a petition keeps its decision."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import NamedTuple

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from credit import clock
from credit.clock import BUREAU_TZ, FutureDate, check_not_future
from credit.db import lock_for_update
from credit.models import (
    CreditEvent,
    EventStatus,
    Firm,
    Listing,
    ListingStatus,
    ListKind,
    Petition,
    PetitionKind,
    PetitionStatus,
    RuleSetVersion,
    User,
    utcnow,
)
from credit.rules.calendar import WorkingCalendar
from credit.rules.dates import add_months, cutoff
from credit.rules.duties import DutyConflict, listing_decision_conflict, petition_decision_conflict
from credit.rules.evaluate import evaluate
from credit.rules.listings import (
    SERVICE_LABELS,
    EndCode,
    RepairCondition,
    ServiceMethod,
    decidable_sql,
    decision_refusal,
    deemed_served_on,
    missing_calendar_year,
    objection_deadline,
)
from credit.rules.listings import repair_conditions as repair_rule
from credit.rules.ruleset import InternalControl, RuleSet, Trigger, default_ruleset
from credit.services.assessment import firm_facts
from credit.services.audit import record_action
from credit.services.calendar import working_calendar
from credit.services.listings import basis_on, end_listing
from credit.services.rulesets import active_ruleset, get_version, ruleset_of

# A reference the applicant can read out on the phone: no 0/O, 1/I/L.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 8
PUBLIC_DAILY_LIMIT = 5  # public petitions per client and day (anti-abuse; the window counts none)
STATEMENT_MIN = 10
OPEN = (ListingStatus.proposed, ListingStatus.listed)
# The legal basis printed on a notice when the rule set carries none (`black_listing.basis`).
DEFAULT_BLACK_BASIS = (
    "《中华人民共和国产品质量法》;《优化营商环境条例》;本市产品质量提升行动实施方案、质量强市实施方案"
    "关于“完善企业质量信用档案,实施质量信用分类监管,定期发布产品质量红黑榜,对失信主体依法予以限制”的规定"
)


class DueProcessError(ValueError):
    """A step of the due process that cannot be taken; the message says why. `field` names the input
    at fault (for forms), `limited` marks a refusal by the anti-abuse limit."""

    def __init__(self, message: str, *, field: str = "", limited: bool = False, code: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field
        self.limited = limited
        self.code = code  # a refusal by separation of duties: its credit.rules.duties.DutyCode


# --- rules and facts of a listing -----------------------------------------------------------------------


def rules_of(session: Session, listing: Listing) -> RuleSet:
    """The rule set the entry was made under (the active one if that version is unknown)."""
    row = get_version(session, listing.rule_set_version)
    return ruleset_of(row) if row is not None else active_ruleset(session)


def black_basis_text(rules: RuleSet) -> str:
    """The legal basis of black listing: the rule set's `black_listing.basis`, else the default."""
    doc = rules.document.get("black_listing") if isinstance(rules.document, dict) else None
    text = str((doc or {}).get("basis") or "").strip()
    return text or DEFAULT_BLACK_BASIS


def basis_date(listing: Listing) -> date:
    """The date the entry's triggers were assessed on."""
    return basis_on(listing)


@dataclass(frozen=True)
class TriggerFacts:
    """One trigger of a black entry and the effective events that make it hold."""

    trigger: Trigger
    events: list[CreditEvent]


def trigger_facts(session: Session, listing: Listing) -> list[TriggerFacts]:
    """The facts behind a black entry: each of its triggers that holds on the entry's date, with the
    effective events it counts (as the rules count them: type, severity and the trigger's window)."""
    rules = rules_of(session, listing)
    as_of = basis_date(listing)
    facts = firm_facts(session, [listing.firm_id]).get(listing.firm_id, [])
    holding = set(evaluate(facts, as_of, rules).triggers) & set((listing.basis or {}).get("triggers") or ())
    found: list[TriggerFacts] = []
    chosen: list[tuple[Trigger, list[int]]] = []
    for trigger in rules.triggers:
        if trigger.code not in holding:
            continue
        since = cutoff(as_of, trigger.months)
        ids = [
            f.id
            for f in facts
            if f.event_type in trigger.types
            and (not trigger.severities or f.severity in trigger.severities)
            and since < f.occurred_on <= as_of
        ]
        chosen.append((trigger, ids))
    all_ids = {i for _, ids in chosen for i in ids}
    wanted: dict[int, CreditEvent] = {}
    if all_ids:
        wanted = {e.id: e for e in session.exec(select(CreditEvent).where(col(CreditEvent.id).in_(all_ids)))}  # type: ignore[misc]
    for trigger, ids in chosen:
        events = sorted((wanted[i] for i in ids if i in wanted), key=lambda e: (e.occurred_on, e.id))
        found.append(TriggerFacts(trigger, events))
    return found


def _require_reviewer(user: User) -> None:
    if not user.has_role("reviewer") or not user.is_active:
        raise DueProcessError(f"{user.username} 不是在职的审核员,不能作出决定")


# --- separation of duties (credit.rules.duties) -------------------------------------------------------------


def internal_control(session: Session) -> InternalControl:
    """The internal-control settings of the rule set in force (read only: a page may ask on a GET)."""
    row = session.exec(select(RuleSetVersion).where(col(RuleSetVersion.active).is_(True))).first()
    return (ruleset_of(row) if row is not None else default_ruleset()).control


def trigger_approvers(session: Session, listing: Listing) -> set[int]:
    """Who approved the records a black entry rests on (its trigger facts)."""
    if listing.kind != ListKind.black:
        return set()
    return {e.reviewed_by_id for t in trigger_facts(session, listing) for e in t.events if e.reviewed_by_id}


def listing_duty_conflict(
    session: Session, listing: Listing, user: User, *, waiver: bool = False
) -> DutyConflict | None:
    """Why separation of duties keeps `user` from deciding this entry (or registering its waiver), or None."""
    enabled = internal_control(session).separation_of_duties
    if not enabled or listing.kind != ListKind.black:
        return None
    return listing_decision_conflict(
        enabled=enabled, person_id=user.id, trigger_approver_ids=trigger_approvers(session, listing), waiver=waiver
    )


def petition_duty_conflict(session: Session, petition: Petition, user: User) -> DutyConflict | None:
    """Why separation of duties keeps `user` from deciding this petition, or None."""
    enabled = internal_control(session).separation_of_duties
    if not enabled:
        return None
    listing = session.get(Listing, petition.listing_id) if petition.listing_id else None
    event = session.get(CreditEvent, petition.event_id) if petition.event_id else None
    return petition_decision_conflict(
        enabled=enabled,
        person_id=user.id,
        listing_decided_by_id=listing.decided_by_id if listing is not None else None,
        record_approved_by_id=event.reviewed_by_id if event is not None else None,
    )


def _refuse_conflict(conflict: DutyConflict | None) -> None:
    if conflict is not None:
        raise DueProcessError(conflict.message, field="duty", code=conflict.code.value)


def _decided_by_someone(session: Session, who_id: int | None, when: object, what: str) -> DueProcessError:
    """The refusal of a decision someone else took first (two reviewers at once: one decides)."""
    who = session.get(User, who_id) if who_id else None
    name = who.display_name or who.username if who is not None else "他人"
    on = f"于 {when} " if when else ""
    return DueProcessError(f"{what}已由{name}{on}处理，无需再作决定", field="conflict")


# --- objections that hold a decision ----------------------------------------------------------------------


def holding_objections(session: Session, listing: Listing) -> list[Petition]:
    """Objections that hold a decision on this entry: open ones against the entry or a record it rests on,
    and upheld ones against such a record not yet corrected or revoked (it still counts)."""
    candidates = session.exec(
        select(Petition)
        .where(
            Petition.firm_id == listing.firm_id,
            Petition.kind == PetitionKind.objection,
            or_(
                Petition.status == PetitionStatus.open,
                (Petition.status == PetitionStatus.granted) & col(Petition.event_id).is_not(None),
            ),
        )
        .order_by(col(Petition.id))
    ).all()
    held: list[Petition] = []
    resting_on: set[int] | None = None
    for petition in candidates:
        if petition.listing_id is not None:
            if petition.listing_id == listing.id and petition.status == PetitionStatus.open:
                held.append(petition)
            continue
        if resting_on is None:  # evaluated only when a record of the firm is under objection
            black = listing.kind == ListKind.black
            resting_on = {e.id for t in trigger_facts(session, listing) for e in t.events} if black else set()  # type: ignore[misc]
        if petition.event_id in resting_on:
            held.append(petition)
    return held


def _refuse_while_held(session: Session, listing: Listing) -> None:
    held = holding_objections(session, listing)
    pending = [p.reference for p in held if p.status == PetitionStatus.open]
    if pending:
        raise DueProcessError(f"有未决异议({'、'.join(pending)}),须先对异议作出决定")
    if held:
        refs = "、".join(p.reference for p in held)
        raise DueProcessError(f"异议已成立({refs}),但据以列入的记录尚未更正或撤销,须先通过信用事件流程修正记录")


# --- black-list decisions -------------------------------------------------------------------------------


def _decision_date(on: date) -> date:
    try:
        return check_not_future(on, field="决定日期")
    except FutureDate as exc:
        raise DueProcessError(str(exc), field="on") from None


def refusal_to_decide(listing: Listing, on: date):
    """Why a black proposal cannot be decided on `on` (credit.rules.listings.decision_refusal), or None."""
    return decision_refusal(
        kind=listing.kind,
        status=listing.status,
        proposed_on=listing.proposed_on,
        served_on=listing.served_on,
        deadline=listing.deadline,
        waived=listing.waived,
        on=on,
    )


def decide_black(session: Session, listing: Listing, reviewer: User, *, approve: bool, note: str, on: date) -> Listing:
    """A reviewer decides a proposed black entry: listed from `on` for the rule set's term, or not listed
    (withdrawn). Only once the notice was served and its objection period is over, unless the firm
    waived it; never while an objection is open; a refusal to list needs a reason."""
    _require_reviewer(reviewer)
    _decision_date(on)
    lock_for_update(session, listing)
    if listing.status != ListingStatus.proposed and listing.decided_by_id is not None:
        raise _decided_by_someone(session, listing.decided_by_id, listing.decided_on, f"条目 #{listing.id} ")
    refusal = refusal_to_decide(listing, on)
    if refusal is not None:
        raise DueProcessError(f"条目 #{listing.id}:{refusal.message}")
    _refuse_while_held(session, listing)
    _refuse_conflict(listing_duty_conflict(session, listing, reviewer))
    note = " ".join(note.split())[:1000]
    listing.decided_on = on
    listing.decided_by_id = reviewer.id
    if approve:
        rules = rules_of(session, listing)
        default = "企业放弃陈述申辩,决定列入" if listing.waived else "告知期满未提出异议,决定列入"
        listing.status = ListingStatus.listed
        listing.listed_from = on
        listing.listed_until = add_months(on, rules.black.list_months)
        listing.decision_note = note or default
        session.add(listing)
        session.flush()
    else:
        if not note:
            raise DueProcessError("决定不予列入须说明理由", field="note")
        listing.decision_note = note
        end_listing(session, listing, on, EndCode.not_listed, note)
    return listing


# --- service of notices (送达) ------------------------------------------------------------------------------

SERVICE_METHODS = tuple(m.value for m in ServiceMethod)


def _require_staff(user: User, what: str) -> None:
    if not user.has_role("recorder", "reviewer") or not user.is_active:
        raise DueProcessError(f"{user.username} 不是在职的录入员或审核员,不能{what}")


def serve_notice(
    session: Session,
    listing: Listing,
    *,
    by: User,
    on: date,
    method: str,
    note: str = "",
    calendar: WorkingCalendar | None = None,
    rules: RuleSet | None = None,
) -> Listing:
    """Record that a proposal's notice (告知书) reached the firm: how, on which day (for 公告送达 the day of
    the announcement; it counts as served the rule set's number of days later) and by whom. The objection
    deadline is then the rule set's number of official working days after service — or none, while a
    year it runs into has no calendar (fail closed)."""
    _require_staff(by, "登记送达")
    if method not in SERVICE_METHODS:
        raise DueProcessError(f"送达方式须为 {'、'.join(SERVICE_LABELS.values())} 之一", field="method")
    try:
        check_not_future(on, field="送达日期")
    except FutureDate as exc:
        raise DueProcessError(str(exc), field="on") from None
    if listing.kind != ListKind.black or listing.status != ListingStatus.proposed:
        raise DueProcessError(f"条目 #{listing.id} 不是拟列入(告知中)的黑榜条目,无需送达")
    if listing.served_on is not None:
        raise DueProcessError(f"条目 #{listing.id} 的告知书已于 {listing.served_on} 送达,不能重复登记")
    if listing.proposed_on is not None and on < listing.proposed_on:
        raise DueProcessError(f"送达日期 {on} 早于拟列入日期 {listing.proposed_on}", field="on")
    rules = rules if rules is not None and rules.version == listing.rule_set_version else rules_of(session, listing)
    listing.notice_sent_on = on
    listing.served_on = deemed_served_on(method, on, rules)
    listing.service_method = method
    listing.served_by_id = by.id
    listing.service_note = " ".join(str(note or "").split())[:500]
    listing.deadline = objection_deadline(listing.served_on, rules, calendar or working_calendar(session))
    session.add(listing)
    session.flush()
    return listing


def serve_notices(
    session: Session, listings: list[Listing], *, by: User, on: date, method: str, note: str = ""
) -> list[Listing]:
    """Serve several notices at once, all or nothing: the first one that cannot be served stops the lot.
    The calendar and each rule-set version are read once for the lot."""
    calendar = working_calendar(session)
    rules: dict[int, RuleSet] = {}
    served = []
    for listing in listings:
        if listing.rule_set_version not in rules:
            rules[listing.rule_set_version] = rules_of(session, listing)
        served.append(
            serve_notice(
                session,
                listing,
                by=by,
                on=on,
                method=method,
                note=note,
                calendar=calendar,
                rules=rules[listing.rule_set_version],
            )
        )
    return served


def unserved_proposals(session: Session, *, on: date | None = None) -> list[Listing]:
    """Proposals whose notice is not served yet (proposed by `on`, when given), oldest first."""
    query = select(Listing).where(
        Listing.kind == ListKind.black, Listing.status == ListingStatus.proposed, col(Listing.served_on).is_(None)
    )
    if on is not None:
        query = query.where(col(Listing.proposed_on) <= on)
    return list(session.exec(query.order_by(col(Listing.proposed_on), col(Listing.id))))


def deadline_blocked_by(session: Session, listing: Listing) -> int | None:
    """The year whose missing calendar keeps a served proposal's deadline from being computed."""
    if listing.served_on is None or listing.deadline is not None:
        return None
    return missing_calendar_year(listing.served_on, rules_of(session, listing), working_calendar(session))


def waive_objection(session: Session, listing: Listing, *, recorded_by: User, note: str) -> Listing:
    """The firm waives its right to object (recorded by a recorder or reviewer on its behalf, with what
    was received): a reviewer may then decide at once."""
    if not recorded_by.has_role("recorder", "reviewer") or not recorded_by.is_active:
        raise DueProcessError(f"{recorded_by.username} 无权登记放弃陈述申辩")
    lock_for_update(session, listing)
    if listing.kind != ListKind.black or listing.status != ListingStatus.proposed:
        raise DueProcessError(f"条目 #{listing.id} 不是拟列入(告知中)的黑榜条目")
    if listing.waived:
        raise DueProcessError(f"条目 #{listing.id} 已登记放弃陈述申辩")
    if listing.served_on is None:
        raise DueProcessError(f"条目 #{listing.id} 的告知书尚未送达:企业须先收到告知,才能放弃陈述申辩")
    _refuse_conflict(listing_duty_conflict(session, listing, recorded_by, waiver=True))
    note = " ".join(note.split())
    if not note:
        raise DueProcessError("须写明企业放弃的方式和材料(如书面声明及日期)", field="note")
    if any(p.status == PetitionStatus.open for p in holding_objections(session, listing)):
        raise DueProcessError("该条目有未决异议,不能登记放弃")
    listing.waived = True
    session.add(listing)
    session.flush()
    record_action(session, action="waive_objection", entity="listing", entity_id=str(listing.id), note=note[:2000])
    return listing


def due_proposals(session: Session, *, on: date) -> list[Listing]:
    """Served proposals whose objection period is over by `on` (credit.rules.listings.decidable_sql),
    oldest deadline first."""
    listing = Listing.__table__  # type: ignore[attr-defined]
    return list(
        session.exec(select(Listing).where(decidable_sql(listing, on)).order_by(col(Listing.deadline), col(Listing.id)))
    )


def approve_due(session: Session, reviewer: User, *, on: date, barred: list[Listing] | None = None) -> list[Listing]:
    """List every served proposal whose objection period is over with no objection holding it (see
    holding_objections), as decided by `reviewer` on `on`; the others wait — unserved ones, ones whose
    deadline cannot be computed, ones still in their period, and ones separation of duties keeps from
    `reviewer` (appended to `barred` when given: another reviewer decides them). Idempotent: a second run
    decides nothing more."""
    _require_reviewer(reviewer)
    _decision_date(on)
    decided = []
    for listing in due_proposals(session, on=on):
        if holding_objections(session, listing):
            continue
        if listing_duty_conflict(session, listing, reviewer) is not None:
            if barred is not None:
                barred.append(listing)
            continue
        decide_black(session, listing, reviewer, approve=True, note="告知期满未提出异议,批量决定列入", on=on)
        decided.append(listing)
    return decided


# --- petitions: objections and credit repair ---------------------------------------------------------------


def new_reference(session: Session, *, on: date | None = None) -> str:
    """A random, unused reference like 26-K7M3QX9P: the year, then letters nobody misreads."""
    year = (on or clock.today()).year % 100
    while True:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        reference = f"{year:02d}-{code}"
        if session.exec(select(Petition.id).where(Petition.reference == reference)).first() is None:
            return reference


def normalise_reference(text: str) -> str:
    return "".join(str(text or "").split()).upper()


def get_petition(session: Session, reference: str) -> Petition | None:
    """The petition with this reference (case and spaces ignored)."""
    return session.exec(select(Petition).where(Petition.reference == normalise_reference(reference))).first()


def start_of_day(now: datetime) -> datetime:
    """Midnight of `now`'s day in the bureau's time zone."""
    local = now.astimezone(BUREAU_TZ)
    return datetime.combine(local.date(), time.min, tzinfo=BUREAU_TZ)


def public_filings_today(session: Session, client_hash: str, *, now: datetime | None = None) -> int:
    since = start_of_day(now or utcnow())
    return session.exec(
        select(func.count())
        .select_from(Petition)
        .where(Petition.client_hash == client_hash, Petition.filed_via == "public", col(Petition.filed_at) >= since)
    ).one()


def _check_target(session: Session, kind: str, firm: Firm, listing: Listing | None, event: CreditEvent | None) -> None:
    if kind == PetitionKind.repair:
        if event is not None or listing is None:
            raise DueProcessError("信用修复须针对已列入的黑榜条目", field="listing")
        if listing.firm_id != firm.id:
            raise DueProcessError("该黑榜条目不属于此企业", field="listing")
        if listing.kind != ListKind.black or listing.status != ListingStatus.listed:
            raise DueProcessError("信用修复只适用于已列入黑榜的条目", field="listing")
        return
    if (listing is None) == (event is None):
        raise DueProcessError("异议须针对一条信用记录或一个榜单条目", field="target")
    if event is not None:
        if event.firm_id != firm.id:
            raise DueProcessError("该信用记录不属于此企业", field="event")
        if event.status != EventStatus.effective:
            raise DueProcessError("只能对已生效的信用记录提出异议", field="event")
    if listing is not None:
        if listing.firm_id != firm.id:
            raise DueProcessError("该榜单条目不属于此企业", field="listing")
        if listing.status not in OPEN:
            raise DueProcessError("只能对拟列入或已列入的榜单条目提出异议", field="listing")


def file_petition(
    session: Session,
    *,
    kind: str,
    firm: Firm,
    listing: Listing | None = None,
    event: CreditEvent | None = None,
    applicant_name: str,
    applicant_contact: str,
    statement: str,
    filed_via: str = "public",
    filed_by: User | None = None,
    client_hash: str = "",
    daily_limit: int = PUBLIC_DAILY_LIMIT,
    now: datetime | None = None,
) -> Petition:
    """File an objection (to an effective record or an open entry of that firm) or a credit-repair
    application (for a listed black entry), open, with a fresh reference. At most one open petition of a
    kind per target; at most `daily_limit` public filings per client and day."""
    if kind not in (PetitionKind.objection, PetitionKind.repair):
        raise DueProcessError("申请类型须为异议或信用修复", field="kind")
    if filed_via not in ("public", "recorder"):
        raise DueProcessError("提交途径须为 public 或 recorder")
    if filed_via == "recorder" and (filed_by is None or not filed_by.has_role("recorder") or not filed_by.is_active):
        raise DueProcessError("代企业提交须由在职的录入员办理")
    name = " ".join(str(applicant_name or "").split())
    contact = " ".join(str(applicant_contact or "").split())
    text = str(statement or "").strip()
    if not name:
        raise DueProcessError("请填写申请人姓名或单位", field="applicant_name")
    if len(name) > 100:
        raise DueProcessError("申请人不能超过 100 个字", field="applicant_name")
    if not contact:
        raise DueProcessError("请填写联系方式", field="applicant_contact")
    if len(contact) > 100:
        raise DueProcessError("联系方式不能超过 100 个字", field="applicant_contact")
    if len(text) < STATEMENT_MIN:
        raise DueProcessError(f"事实和理由至少 {STATEMENT_MIN} 个字", field="statement")
    if len(text) > 5000:
        raise DueProcessError("事实和理由不能超过 5000 个字", field="statement")
    _check_target(session, kind, firm, listing, event)
    if filed_via == "public" and client_hash and public_filings_today(session, client_hash, now=now) >= daily_limit:
        raise DueProcessError(f"同一来源每天最多在线提交 {daily_limit} 件申请,请明天再试或到窗口办理", limited=True)
    target = (
        col(Petition.listing_id) == listing.id if listing is not None else col(Petition.event_id) == event.id  # type: ignore[union-attr]
    )
    same = select(Petition.reference).where(Petition.kind == kind, Petition.status == PetitionStatus.open, target)
    existing = session.exec(same).first()
    if existing is not None:
        what = "异议" if kind == PetitionKind.objection else "信用修复申请"
        raise DueProcessError(f"该事项已有未决{what}(受理编号 {existing}),请等待处理结果", field="target")
    petition = Petition(
        reference=new_reference(session),
        kind=kind,
        status=PetitionStatus.open,
        firm_id=firm.id,  # type: ignore[arg-type]
        listing_id=listing.id if listing else None,
        event_id=event.id if event else None,
        applicant_name=name,
        applicant_contact=contact,
        statement=text,
        filed_via=filed_via,
        filed_by_id=filed_by.id if filed_by else None,
        client_hash=client_hash[:64],
    )
    if now is not None:
        petition.filed_at = now
    session.add(petition)
    session.flush()
    return petition


def heavy_penalties_since(session: Session, firm_id: int, since: date, on: date) -> list[CreditEvent]:
    """Effective heavy penalties of the firm that occurred after `since`, up to `on`."""
    return list(
        session.exec(
            select(CreditEvent).where(
                CreditEvent.firm_id == firm_id,
                CreditEvent.event_type == "penalty",
                CreditEvent.severity == "heavy",
                CreditEvent.status == EventStatus.effective,
                col(CreditEvent.occurred_on) > since,
                col(CreditEvent.occurred_on) <= on,
            )
        )
    )


def repair_conditions(
    session: Session, listing: Listing, *, on: date, penalty_performed: bool, rectified: bool
) -> list[RepairCondition]:
    """The conditions of credit repair for an entry on `on` (credit.rules.listings.repair_conditions),
    with the firm's heavy penalties since listing looked up."""
    heavy = []
    if listing.listed_from is not None:
        heavy = [
            f"{e.document_no}({e.occurred_on})"
            for e in heavy_penalties_since(session, listing.firm_id, listing.listed_from, on)
        ]
    return repair_rule(
        status=listing.status,
        listed_from=listing.listed_from,
        on=on,
        rules=rules_of(session, listing),
        penalty_performed=penalty_performed,
        rectified=rectified,
        heavy_penalties_since_listing=heavy,
    )


@dataclass(frozen=True)
class PetitionOutcome:
    """What a decision did, and what is left to do (told to the reviewer)."""

    petition: Petition
    message: str


def decide_petition(
    session: Session,
    petition: Petition,
    reviewer: User,
    *,
    grant: bool,
    reason: str,
    penalty_performed: bool = False,
    rectified: bool = False,
    on: date,
) -> PetitionOutcome:
    """A reviewer grants or refuses an open petition, with a reason. An objection upheld ends the proposal
    (withdrawn) or the listing (removed) it targets; one upheld about a record is recorded and the record
    must then be corrected or revoked through the event flow. Credit repair is granted only when every
    condition holds (else refused here, naming the conditions that fail) and removes the entry early."""
    _require_reviewer(reviewer)
    _decision_date(on)
    lock_for_update(session, petition)
    if petition.status != PetitionStatus.open:
        raise _decided_by_someone(session, petition.decided_by_id, None, f"申请 {petition.reference} ")
    _refuse_conflict(petition_duty_conflict(session, petition, reviewer))
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise DueProcessError("须说明决定理由", field="reason")
    listing = session.get(Listing, petition.listing_id) if petition.listing_id else None
    event = session.get(CreditEvent, petition.event_id) if petition.event_id else None
    message = ""
    if petition.kind == PetitionKind.repair:
        petition.penalty_performed = penalty_performed
        petition.rectified = rectified
    if grant and petition.kind == PetitionKind.repair:
        if listing is None:
            raise DueProcessError("信用修复申请未指向黑榜条目")
        failed = [
            c
            for c in repair_conditions(
                session, listing, on=on, penalty_performed=penalty_performed, rectified=rectified
            )
            if not c.met
        ]
        if failed:
            raise DueProcessError(
                "不符合信用修复条件:"
                + ";".join(f"{c.label}未满足" + (f"({c.detail})" if c.detail else "") for c in failed)
            )
        end_listing(session, listing, on, EndCode.repair, f"{petition.reference}:{reason}")
        message = f"信用修复已批准,黑榜条目 #{listing.id} 于 {on} 提前移出"
    elif grant and listing is not None:
        if listing.status in OPEN:
            was_proposed = listing.status == ListingStatus.proposed
            if was_proposed:
                listing.decided_on = on
                listing.decided_by_id = reviewer.id
                listing.decision_note = f"异议成立({petition.reference}),不予列入"
            end_listing(session, listing, on, EndCode.objection_upheld, f"{petition.reference}:{reason}")
            message = f"异议成立,条目 #{listing.id} " + ("已撤回,不予列入" if was_proposed else f"已于 {on} 移出")
        else:
            message = f"异议成立;条目 #{listing.id} 已于先前结束({listing.status}),无需再作变更"
    elif grant and event is not None:
        message = (
            f"异议成立已记录。信用记录 #{event.id}(文书号 {event.document_no})须通过信用事件的更正或撤销流程予以修正"
        )
    else:
        message = "已驳回" if petition.kind == PetitionKind.objection else "不予信用修复"
    petition.status = PetitionStatus.granted if grant else PetitionStatus.refused
    petition.decided_by_id = reviewer.id
    petition.decided_at = utcnow()
    petition.decision_reason = reason[:2000]
    session.add(petition)
    session.flush()
    return PetitionOutcome(petition, message)


# --- queries for pages ------------------------------------------------------------------------------------


def open_petitions(session: Session, *, kind: str | None = None) -> list[Petition]:
    """Petitions waiting for a decision, oldest first."""
    query = select(Petition).where(Petition.status == PetitionStatus.open)
    if kind:
        query = query.where(Petition.kind == kind)
    return list(session.exec(query.order_by(col(Petition.filed_at), col(Petition.id))))


def petition_queue(session: Session, *, kind: str | None = None, limit: int = 200) -> list[Petition]:
    """The reviewers' queue: open petitions oldest first, then the latest decided ones."""
    decided = select(Petition).where(Petition.status != PetitionStatus.open)
    if kind:
        decided = decided.where(Petition.kind == kind)
    recent = session.exec(decided.order_by(col(Petition.decided_at).desc(), col(Petition.id).desc()).limit(limit))
    return open_petitions(session, kind=kind) + list(recent)


def petitions_for_firm(session: Session, firm_id: int) -> list[Petition]:
    """Every petition about a firm, newest first."""
    return list(session.exec(select(Petition).where(Petition.firm_id == firm_id).order_by(col(Petition.id).desc())))


def petitions_for_listing(session: Session, listing_id: int) -> list[Petition]:
    return list(
        session.exec(select(Petition).where(Petition.listing_id == listing_id).order_by(col(Petition.id).desc()))
    )


class UnderObjection(NamedTuple):
    """Ids of a firm's records and entries with an open objection (flagged on the public page)."""

    events: set[int]
    listings: set[int]


def under_objection(session: Session, firm_id: int) -> UnderObjection:
    """What of a firm is under objection right now (SPEC §2: flagged until decided)."""
    rows = session.exec(
        select(Petition.event_id, Petition.listing_id).where(
            Petition.firm_id == firm_id,
            Petition.kind == PetitionKind.objection,
            Petition.status == PetitionStatus.open,
        )
    ).all()
    return UnderObjection({e for e, _ in rows if e is not None}, {li for _, li in rows if li is not None})


def listings_with_open_objections(session: Session, listing_ids: list[int]) -> set[int]:
    """Which of these entries have an open objection to the entry itself (one query, for lists)."""
    if not listing_ids:
        return set()
    rows = session.exec(
        select(Petition.listing_id).where(
            col(Petition.listing_id).in_(listing_ids),
            Petition.kind == PetitionKind.objection,
            Petition.status == PetitionStatus.open,
        )
    ).all()
    return {r for r in rows if r is not None}


def find_record(session: Session, firm: Firm, document_no: str) -> CreditEvent | None:
    """The firm's effective record with this document number (the newest if several types share it)."""
    return session.exec(
        select(CreditEvent)
        .where(
            CreditEvent.firm_id == firm.id,
            CreditEvent.document_no == " ".join(document_no.split()),
            CreditEvent.status == EventStatus.effective,
        )
        .order_by(col(CreditEvent.occurred_on).desc(), col(CreditEvent.id).desc())
    ).first()


def open_entry(session: Session, firm: Firm, kind: str) -> Listing | None:
    """The firm's proposed or listed entry on a list."""
    return session.exec(
        select(Listing).where(Listing.firm_id == firm.id, Listing.kind == kind, col(Listing.status).in_(OPEN))
    ).first()
