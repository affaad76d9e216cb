"""The listing lifecycle as rules (SPEC §2 "Black listing", "Red listing", "Public records"): when a black
listing is proposed, when a proposal may be decided, when a red listing starts or is renewed, how listings
end (a structured code, never prose), the conditions of credit repair and what the public may see.

Each rule is written once, here, as a pure function over plain values — and, where the city-wide
assessment applies it to every firm at once, as the SQL condition next to it. The per-firm path
(`credit.services.listings.sync_listings`) calls the Python functions, the set-based path
(`credit.services.assessment.assess_all`) compiles the SQL ones; tests/test_listing_rules.py holds the two
paths to the same listings on random histories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, func, or_

from credit.rules.calendar import CalendarMissing, WorkingCalendar
from credit.rules.dates import add_months, cutoff
from credit.rules.evaluate import Assessment
from credit.rules.ruleset import RuleSet


class EndCode(StrEnum):
    """Why a listing ended. Logic reads these codes; people read END_LABELS."""

    expired = "expired"  # the term ran out (期满)
    basis_revoked = "basis_revoked"  # the record it rests on was revoked: as if it never was
    negative_event = "negative_event"  # red: a negative event took effect (动态调整)
    repair = "repair"  # black: credit repair approved (信用修复)
    objection_upheld = "objection_upheld"  # an objection against the entry was upheld
    not_listed = "not_listed"  # black: the reviewer decided not to list the proposal
    legacy = "legacy"  # ended before end codes existed, with a text no rule recognised (migration 0006)


END_LABELS = {
    EndCode.expired: "期满移出",
    EndCode.basis_revoked: "据以列入的记录已撤销",
    EndCode.negative_event: "负面记录生效,移出红榜",
    EndCode.repair: "信用修复,提前移出",
    EndCode.objection_upheld: "异议成立",
    EndCode.not_listed: "审核决定不予列入",
    EndCode.legacy: "已结束",
}

# The prefixes the end reasons carried before end codes (migration 0006 reads them once, to backfill).
LEGACY_PREFIXES: tuple[tuple[str, EndCode], ...] = (
    ("期满移出", EndCode.expired),
    ("据以列入的记录已撤销", EndCode.basis_revoked),
    ("负面记录生效", EndCode.negative_event),
    ("信用修复", EndCode.repair),
    ("异议成立", EndCode.objection_upheld),
    ("审核决定不予列入", EndCode.not_listed),
)

# Ended this way, an entry is treated as if it never was in force: later snapshots leave it out.
NEVER_IN_FORCE = frozenset({EndCode.basis_revoked})
# Ended this way, a black entry disappears from every public page, past publications included (SPEC §2:
# after early removal or revocation the public pages show nothing of that listing).
HIDDEN_BLACK = frozenset({EndCode.repair, EndCode.basis_revoked, EndCode.objection_upheld})


class ServiceMethod(StrEnum):
    """How a notice reached the firm (送达方式)."""

    direct = "direct"  # 直接送达
    mail = "mail"  # 邮寄送达
    electronic = "electronic"  # 电子送达
    public_notice = "public_notice"  # 公告送达


SERVICE_LABELS = {
    ServiceMethod.direct: "直接送达",
    ServiceMethod.mail: "邮寄送达",
    ServiceMethod.electronic: "电子送达",
    ServiceMethod.public_notice: "公告送达",
}


# --- black: proposal ------------------------------------------------------------------------------------


def proposal_due(
    *, triggers: tuple[str, ...], open_black: bool, newest_trigger_event: int | None, covered: int
) -> bool:
    """A black listing is proposed when a trigger holds, the firm has no open black entry, and its newest
    triggering event is newer than every black entry it ever had answered for — so an early removal
    (repair, upheld objection, a refusal to list) sticks until a new triggering event."""
    return bool(triggers) and not open_black and newest_trigger_event is not None and newest_trigger_event > covered


def proposal_due_sql(
    *, triggers: ColumnElement[str], open_black: ColumnElement[bool], newest: ColumnElement[int], covered
) -> ColumnElement[bool]:
    """`proposal_due` as an SQL condition over per-firm columns (triggers: comma-separated codes, '' when
    none; newest NULL when the firm has no triggering event, which makes the comparison false)."""
    return and_(triggers != "", ~open_black, newest > covered)


def black_basis(rules: RuleSet, triggers: tuple[str, ...] | list[str], as_of: date) -> dict:
    """The stored basis of a black entry: trigger codes, the assessment date and the rule-set version."""
    return {"triggers": list(triggers), "as_of": as_of.isoformat(), "rule_set_version": rules.version}


def trigger_reason(rules: RuleSet, codes: tuple[str, ...] | list[str]) -> str:
    """The reason printed for people: the triggers' labels."""
    labels = {t.code: t.label for t in rules.triggers}
    return ";".join(labels.get(code, code) for code in codes)


def trigger_types(rules: RuleSet) -> list[str]:
    """Every event type some black-list trigger counts."""
    return sorted({t for trigger in rules.triggers for t in trigger.types})


# --- black: service, deadline, decision -------------------------------------------------------------------


def deemed_served_on(method: str, on: date, rules: RuleSet) -> date:
    """The day a notice counts as served: the day it reached the firm, or for 公告送达 the day the public
    notice period after publication ends (《民事诉讼法》第九十五条: 30 days by default)."""
    if method == ServiceMethod.public_notice:
        return on + timedelta(days=rules.black.public_notice_days)
    return on


def objection_deadline(served_on: date, rules: RuleSet, calendar: WorkingCalendar) -> date | None:
    """The last day a firm may object: the rule set's number of official working days after service.
    None when a year the period runs into has no calendar (fail closed: not computed, not decidable)."""
    try:
        return calendar.add_working_days(served_on, rules.black.objection_working_days)
    except CalendarMissing:
        return None


def missing_calendar_year(served_on: date, rules: RuleSet, calendar: WorkingCalendar) -> int | None:
    """The year whose missing calendar stops the deadline from being computed, if any."""
    try:
        calendar.add_working_days(served_on, rules.black.objection_working_days)
    except CalendarMissing as missing:
        return missing.year
    return None


@dataclass(frozen=True)
class Refusal:
    """Why a step cannot be taken: a code for logic and tests, a message for people."""

    code: str
    message: str


def decision_refusal(
    *,
    kind: str,
    status: str,
    proposed_on: date | None,
    served_on: date | None,
    deadline: date | None,
    waived: bool,
    on: date,
) -> Refusal | None:
    """Whether a black proposal may be decided on `on`: it must be a proposal, its notice served, and its
    objection period over (the day after the deadline) unless the firm waived it. None when it may."""
    if kind != "black" or status != "proposed":
        return Refusal("not_proposed", "不是拟列入(告知中)的黑榜条目,不能决定")
    if proposed_on is not None and on < proposed_on:
        return Refusal("before_proposal", f"决定日期 {on} 早于拟列入日期 {proposed_on}")
    if served_on is None:
        return Refusal("not_served", "告知书尚未送达:须先登记送达,异议期自送达之日起计算")
    if on < served_on:
        return Refusal("before_service", f"决定日期 {on} 早于送达日期 {served_on}")
    if waived:
        return None
    if deadline is None:
        return Refusal("deadline_unknown", "异议期届满日无法计算(所涉年份的法定工作日历尚未载入),暂不能决定")
    if on <= deadline:
        return Refusal("period_running", f"异议期至 {deadline} 届满,届满后方可决定(企业书面放弃陈述申辩的除外)")
    return None


def decidable_sql(listing, on: date) -> ColumnElement[bool]:
    """`decision_refusal(...) is None` for proposals that were not waived, as SQL: served, with a computed
    deadline before `on` (the batch decision `approve-due` lists only these)."""
    return and_(
        listing.c.kind == "black",
        listing.c.status == "proposed",
        listing.c.served_on.is_not(None),
        listing.c.served_on <= on,
        listing.c.deadline.is_not(None),
        listing.c.deadline < on,
    )


# --- red ------------------------------------------------------------------------------------------------


def red_basis(codes: tuple[str, ...] | list[str], as_of: date, rules: RuleSet) -> dict:
    return {"criteria": list(codes), "as_of": as_of.isoformat(), "rule_set_version": rules.version}


def red_reason(rules: RuleSet) -> str:
    red = rules.red
    return (
        f"{red.grade} 级守信企业,{red.no_negative_months} 个月内无失信记录,"
        f"获有效质量奖或名牌产品,或 {red.passes_months} 个月内监督抽查合格 {red.passes_min} 次以上"
    )


@dataclass(frozen=True)
class RedStep:
    """What the red list does for one eligible firm: list it from `as_of`, or renew its term."""

    action: str  # "list" | "renew"
    listed_until: date


def red_step(*, eligible: bool, open_red: bool, open_until: date | None, as_of: date, rules: RuleSet) -> RedStep | None:
    """A firm eligible on `as_of` is listed for the rule set's term from `as_of`; one already listed is
    renewed to as_of + term when that is later than its current end (or it has none)."""
    if not eligible:
        return None
    until = add_months(as_of, rules.red.list_months)
    if not open_red:
        return RedStep("list", until)
    if open_until is None or open_until < until:
        return RedStep("renew", until)
    return None


def red_renewal_sql(listed_until: ColumnElement[date], until: date) -> ColumnElement[bool]:
    """The renewal half of `red_step` as SQL, for listed red entries of eligible firms."""
    return or_(listed_until.is_(None), listed_until < until)


# --- ending -------------------------------------------------------------------------------------------


def expires(*, status: str, listed_until: date | None, as_of: date) -> bool:
    """A listed entry whose term is over on `as_of` (listed_until is the first day out of force)."""
    return status == "listed" and listed_until is not None and listed_until <= as_of


def still_holds_after_revocation(kind: str, basis: dict, result_on_basis_date: Assessment) -> bool:
    """After a record is revoked: does an open entry still rest on something? A black entry while one of
    its triggers still holds on its own date; a red entry while the firm is still eligible then."""
    if kind == "black":
        return bool(set(result_on_basis_date.triggers) & set(basis.get("triggers") or ()))
    return result_on_basis_date.red_eligible


def hidden_from_public(kind: str, end_code: str | None) -> bool:
    """Whether the public may no longer see an entry (in current lists and past publications alike)."""
    if end_code in NEVER_IN_FORCE:
        return True
    return kind == "black" and end_code in HIDDEN_BLACK


def hidden_from_public_sql(kind: ColumnElement[str], end_code: ColumnElement[str]) -> ColumnElement[bool]:
    """`hidden_from_public` as SQL (an entry without an end code is never hidden)."""
    code = func.coalesce(end_code, "")
    return or_(code.in_(sorted(NEVER_IN_FORCE)), and_(kind == "black", code.in_(sorted(HIDDEN_BLACK))))


# --- credit repair ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepairCondition:
    """One condition of credit repair (SPEC §2) and whether it holds."""

    code: str
    label: str
    met: bool
    detail: str = ""


def repair_conditions(
    *,
    status: str,
    listed_from: date | None,
    on: date,
    rules: RuleSet,
    penalty_performed: bool,
    rectified: bool,
    heavy_penalties_since_listing: list[str],
) -> list[RepairCondition]:
    """The conditions of credit repair on `on`: listed, for at least the rule set's minimum, penalty
    performed, rectified, no new heavy penalty since listing (given as their document numbers)."""
    months = rules.black.repair_min_months
    if status != "listed" or listed_from is None:
        return [RepairCondition("listed", "黑榜条目处于列入状态", False, f"当前状态为 {status}")]
    earliest = add_months(listed_from, months)
    return [
        RepairCondition(
            "min_months",
            f"列入已满 {months} 个月",
            on >= earliest,
            f"自 {listed_from} 列入,{earliest} 起满 {months} 个月",
        ),
        RepairCondition("penalty_performed", "行政处罚已履行完毕", penalty_performed, "须经审核员核实确认"),
        RepairCondition("rectified", "失信行为已整改到位", rectified, "须经审核员核实确认"),
        RepairCondition(
            "no_new_heavy_penalty",
            "列入后无新的从重行政处罚",
            not heavy_penalties_since_listing,
            "、".join(heavy_penalties_since_listing),
        ),
    ]


# --- public records ---------------------------------------------------------------------------------------


def public_until(
    *,
    event_type: str,
    severity: str | None,
    occurred_on: date,
    amount: float | None,
    valid_until: date | None,
    rules: RuleSet,
) -> date | None:
    """The first day a record no longer shows on the public firm page; None when it never shows.
    Penalties 36 months (3 when the fine is under 10,000 CNY), spot-check failures 36 months, honours
    while they count — every number from the rule set."""
    public = rules.public
    if event_type == "penalty":
        small = amount is not None and amount < public.penalty_small_below
        return add_months(occurred_on, public.penalty_small_months if small else public.penalty_months)
    if event_type == "spot_check_fail":
        return add_months(occurred_on, public.spot_check_fail_months)
    if event_type in public.shown_while_counting:
        rule = rules.rule_for(event_type, severity)
        if rule is None or rule.months is None:
            return None
        if rule.until_valid and valid_until is not None:
            return valid_until
        return add_months(occurred_on, rule.months)
    return None


def public_types(rules: RuleSet) -> list[str]:
    """Every event type that can show on the public page."""
    return sorted({"penalty", "spot_check_fail", *rules.public.shown_while_counting})


def public_candidates_sql(event, rules: RuleSet, as_of: date) -> ColumnElement[bool]:
    """A superset, as SQL, of the events `public_until` shows on `as_of` (so the page reads few rows):
    per type, occurred within its longest public window, or still valid for an until-valid honour."""
    longest = max(rules.public.penalty_months, rules.public.penalty_small_months)
    parts = [
        and_(event.c.event_type == "penalty", event.c.occurred_on > cutoff(as_of, longest)),
        and_(
            event.c.event_type == "spot_check_fail",
            event.c.occurred_on > cutoff(as_of, rules.public.spot_check_fail_months),
        ),
    ]
    for event_type in rules.public.shown_while_counting:
        windows = [r for r in rules.points.values() if r.event_type == event_type and r.months]
        if not windows:
            continue
        months = max(r.months or 0 for r in windows)
        cond = event.c.occurred_on > cutoff(as_of, months)
        if any(r.until_valid for r in windows):
            cond = or_(cond, event.c.valid_until > as_of)
        parts.append(and_(event.c.event_type == event_type, cond))
    return or_(*parts)
