"""Work queues of the staff home page (工作台): what waits for this user, by role — counted in SQL, listed
in bounded pages (at most `limit` rows per queue), each with the page that works it.

* recorder: their records pending review, and their records rejected (to correct);
* reviewer: records waiting for review that someone else recorded (four-eyes: never their own), black
  proposals whose objection period ends this week (Monday–Sunday of today's week), open objections and
  open credit-repair applications;
* admin: warnings — a working-day calendar missing (credit.services.calendar), API keys never used or
  not used for `stale_days`, no active rule set, no inspector roster big enough for a plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from credit.models import (
    ApiKey,
    CreditEvent,
    EventStatus,
    Firm,
    Inspector,
    Listing,
    ListingStatus,
    ListKind,
    Petition,
    PetitionKind,
    PetitionStatus,
    RuleSetVersion,
)
from credit.models.user import User


@dataclass
class Queue:
    """One queue: a code (logic and tests read it), its count and the first rows."""

    code: str
    count: int
    items: list[dict[str, Any]] = field(default_factory=list)


def week_of(day: date) -> tuple[date, date]:
    """Monday and Sunday of the week of `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def _count(session: Session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def _events(session: Session, *where, limit: int) -> list[dict[str, Any]]:
    rows = session.exec(
        select(CreditEvent.id, CreditEvent.event_type, CreditEvent.document_no, Firm.uscc, Firm.name)
        .join(Firm, Firm.id == CreditEvent.firm_id)
        .where(*where)
        .order_by(col(CreditEvent.id).desc())
        .limit(limit)
    ).all()
    return [{"id": r[0], "event_type": r[1], "document_no": r[2], "uscc": r[3], "name": r[4]} for r in rows]


def recorder_queues(session: Session, user: User, *, limit: int = 10) -> list[Queue]:
    """The recorder's own pending and rejected records."""
    queues = []
    for code, status in (("my_pending", EventStatus.pending), ("my_rejected", EventStatus.rejected)):
        where = (CreditEvent.recorded_by_id == user.id, CreditEvent.status == status)
        queues.append(Queue(code, _count(session, CreditEvent, *where), _events(session, *where, limit=limit)))
    return queues


def reviewer_queues(session: Session, user: User, *, today: date, limit: int = 10) -> list[Queue]:
    """Records to review (not the reviewer's own), proposals whose objection period ends this week, open
    objections and open repair applications."""
    to_review = (
        CreditEvent.status == EventStatus.pending,
        col(CreditEvent.recorded_by_id).is_distinct_from(user.id),
    )
    queues = [Queue("to_review", _count(session, CreditEvent, *to_review), _events(session, *to_review, limit=limit))]
    monday, sunday = week_of(today)
    ending = (
        Listing.kind == ListKind.black,
        Listing.status == ListingStatus.proposed,
        col(Listing.deadline) >= monday,
        col(Listing.deadline) <= sunday,
    )
    rows = session.exec(
        select(Listing.id, Listing.deadline, Firm.uscc, Firm.name)
        .join(Firm, Firm.id == Listing.firm_id)
        .where(*ending)
        .order_by(Listing.deadline, Listing.id)
        .limit(limit)
    ).all()
    queues.append(
        Queue(
            "deadline_this_week",
            _count(session, Listing, *ending),
            [{"id": r[0], "deadline": r[1], "uscc": r[2], "name": r[3]} for r in rows],
        )
    )
    for code, kind in (("open_objections", PetitionKind.objection), ("open_repairs", PetitionKind.repair)):
        where = (Petition.kind == kind, Petition.status == PetitionStatus.open)
        rows = session.exec(
            select(Petition.id, Petition.reference, Firm.uscc, Firm.name)
            .join(Firm, Firm.id == Petition.firm_id)
            .where(*where)
            .order_by(Petition.id)
            .limit(limit)
        ).all()
        queues.append(
            Queue(
                code,
                _count(session, Petition, *where),
                [{"id": r[0], "reference": r[1], "uscc": r[2], "name": r[3]} for r in rows],
            )
        )
    return queues


@dataclass(frozen=True)
class AdminWarning:
    code: str  # no_active_rules | api_key_unused | api_key_stale | roster_small (+ calendar codes)
    level: str  # error | warning
    message: str
    count: int = 0


def admin_warnings(
    session: Session, *, now: datetime, stale_days: int, inspectors_per_firm: int | None
) -> list[AdminWarning]:
    """What the admin should fix (besides the calendar warnings): no active rule set, API keys never used
    or not used for `stale_days` days (unrevoked), an inspector roster too small for a plan."""
    warnings = []
    active = _count(session, RuleSetVersion, col(RuleSetVersion.active).is_(True))
    if not active:
        warnings.append(AdminWarning("no_active_rules", "error", "没有生效的规则集:评价与核查无法进行", 0))
    cutoff = now - timedelta(days=stale_days)
    live = (col(ApiKey.revoked_at).is_(None),)
    unused = _count(session, ApiKey, *live, col(ApiKey.last_used_at).is_(None), col(ApiKey.created_at) < cutoff)
    if unused:
        warnings.append(
            AdminWarning(
                "api_key_unused", "warning", f"{unused} 个接口密钥创建 {stale_days} 天以上从未使用:请核实或吊销", unused
            )
        )
    stale = _count(session, ApiKey, *live, col(ApiKey.last_used_at) < cutoff)
    if stale:
        warnings.append(
            AdminWarning(
                "api_key_stale", "warning", f"{stale} 个接口密钥已 {stale_days} 天以上未使用:请核实或吊销", stale
            )
        )
    if inspectors_per_firm is not None:
        on_duty = _count(session, Inspector, col(Inspector.active).is_(True))
        if on_duty < inspectors_per_firm:
            warnings.append(
                AdminWarning(
                    "roster_small",
                    "warning",
                    f"在岗检查人员 {on_duty} 名,少于每户 {inspectors_per_firm} 名:双随机抽查计划无法抽取",
                    on_duty,
                )
            )
    return warnings
