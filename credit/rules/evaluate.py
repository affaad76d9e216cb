"""Assess one firm from plain facts: score, grade, black-list triggers, red eligibility and the
explanation of every point and criterion. Deterministic: the same facts, date and rules give the same
answer, for any date."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from credit.rules.dates import cutoff, window_end
from credit.rules.ruleset import RuleSet


@dataclass(frozen=True)
class EventFact:
    """An effective credit event, as the rules see it."""

    id: int
    event_type: str
    occurred_on: date
    severity: str | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class CountedEvent:
    """An event that counts on the assessment date, with the points it brings."""

    event_id: int
    event_type: str
    severity: str | None
    occurred_on: date
    points: int
    counts_until: date | None  # the first day it no longer counts; None while a state holds


@dataclass(frozen=True)
class Assessment:
    """The result for one firm on one date, with everything needed to explain it."""

    as_of: date
    score: int
    grade: str
    triggers: tuple[str, ...]
    red_eligible: bool
    counted: tuple[CountedEvent, ...]
    criteria: tuple[str, ...]
    positive_points: int  # before the cap
    negative_points: int
    capped: dict[str, int]  # type -> points removed by its cap (and "positive_cap")
    rule_set_version: int
    red_basis: tuple[str, ...] = ()  # the red criteria met: "honour" (an honour counts), "passes"

    @property
    def black_triggered(self) -> bool:
        return bool(self.triggers)


def _counts(fact: EventFact, months: int | None, until_valid: bool, as_of: date, cuts: dict[int, date]) -> bool:
    if fact.occurred_on > as_of:
        return False
    if until_valid and fact.valid_until is not None:
        return as_of < fact.valid_until
    return months is not None and fact.occurred_on > cuts[months]


def negative_within(facts: list[EventFact], as_of: date, months: int, rules: RuleSet) -> bool:
    """Whether an event with negative points occurred in the `months` up to `as_of` (whether or not its
    own points still count)."""
    limit = cutoff(as_of, months)
    for fact in facts:
        rule = rules.rule_for(fact.event_type, fact.severity)
        if rule is not None and rule.points < 0 and limit < fact.occurred_on <= as_of:
            return True
    return False


def evaluate(facts: list[EventFact], as_of: date, rules: RuleSet) -> Assessment:
    """Assess a firm's effective events on `as_of` under `rules` (SPEC §2)."""
    cuts = {m: cutoff(as_of, m) for m in rules.window_months}
    known = [f for f in facts if f.occurred_on <= as_of]
    counted: list[CountedEvent] = []
    by_type: dict[str, int] = defaultdict(int)
    criteria: list[str] = []

    state_facts = []
    for fact in known:
        rule = rules.rule_for(fact.event_type, fact.severity)
        if rule is None:
            continue
        if rule.state is not None:
            state_facts.append((fact, rule))
            continue
        if _counts(fact, rule.months, rule.until_valid, as_of, cuts):
            until = (
                fact.valid_until
                if rule.until_valid and fact.valid_until
                else window_end(fact.occurred_on, rule.months or 0)
            )
            counted.append(CountedEvent(fact.id, fact.event_type, fact.severity, fact.occurred_on, rule.points, until))
            by_type[fact.event_type] += rule.points

    capped: dict[str, int] = {}
    for event_type, cap in rules.caps.items():
        total = by_type.get(event_type, 0)
        limited = max(total, cap) if cap < 0 else min(total, cap)
        if limited != total:
            capped[event_type] = total - limited
            by_type[event_type] = limited
            criteria.append(f"{event_type} 合计 {total} 分,按上限计 {limited} 分")

    if state_facts:
        fact, rule = max(state_facts, key=lambda item: (item[0].occurred_on, item[0].id))
        if rule.state == "start":
            counted.append(CountedEvent(fact.id, fact.event_type, fact.severity, fact.occurred_on, rule.points, None))
            by_type[fact.event_type] += rule.points

    positive = sum(v for v in by_type.values() if v > 0)
    negative = sum(v for v in by_type.values() if v < 0)
    if positive > rules.positive_cap:
        capped["positive_cap"] = positive - rules.positive_cap
        criteria.append(f"加分合计 {positive} 分,按上限计 {rules.positive_cap} 分")
    score = rules.base_score + min(positive, rules.positive_cap) + negative

    def negative_in(months: int) -> bool:
        return negative_within(known, as_of, months, rules)

    triggers = []
    for trigger in rules.triggers:
        hits = sum(
            1
            for f in known
            if f.event_type in trigger.types
            and (not trigger.severities or f.severity in trigger.severities)
            and f.occurred_on > cuts[trigger.months]
        )
        if hits >= trigger.min_count:
            triggers.append(trigger.code)
            criteria.append(f"黑名单情形:{trigger.label}({hits} 次)")

    grade = rules.grades[-1].grade
    for level in rules.grades[:-1]:
        if score >= level.min_score and level.no_negative_months and negative_in(level.no_negative_months):
            criteria.append(
                f"得分 {score} ≥ {level.min_score},但 {level.no_negative_months} 个月内有失信记录,不评 {level.grade} 级"
            )
            continue
        if score >= level.min_score:
            grade = level.grade
            extra = f"且 {level.no_negative_months} 个月内无失信记录" if level.no_negative_months else ""
            criteria.append(f"得分 {score} ≥ {level.min_score}{extra} → {level.grade} 级")
            break
    else:
        criteria.append(f"得分 {score} < {rules.grades[-2].min_score} → {grade} 级")
    if triggers and grade != rules.grades[-1].grade:
        grade = rules.grades[-1].grade
        criteria.append(f"存在黑名单情形 → {grade} 级")

    red = rules.red
    red_basis: list[str] = []
    if grade == red.grade and not negative_in(red.no_negative_months):
        honours = [c for c in counted if c.event_type in red.honours]
        passes = sum(1 for f in known if f.event_type == red.passes_type and f.occurred_on > cuts[red.passes_months])
        if honours:
            red_basis.append("honour")
        if passes >= red.passes_min:
            red_basis.append("passes")
        if red_basis:
            reason = "有有效的质量奖或名牌产品" if honours else f"{red.passes_months} 个月内监督抽查合格 {passes} 次"
            criteria.append(f"符合红榜条件:{red.grade} 级,{red.no_negative_months} 个月内无失信记录,{reason}")
    red_eligible = bool(red_basis)

    counted.sort(key=lambda c: (c.occurred_on, c.event_id))
    return Assessment(
        as_of=as_of,
        score=score,
        grade=grade,
        triggers=tuple(triggers),
        red_eligible=red_eligible,
        counted=tuple(counted),
        criteria=tuple(criteria),
        positive_points=positive,
        negative_points=negative,
        capped=capped,
        rule_set_version=rules.version,
        red_basis=tuple(red_basis),
    )
