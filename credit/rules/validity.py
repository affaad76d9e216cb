"""How long an assessment stays true: the first day on which `evaluate()` may give another answer.

`evaluate(facts, d, rules)` depends on the day d only through three kinds of comparison (see
credit.rules.evaluate and credit.rules.dates.cutoff):
- `occurred_on <= d` (an event is known from the day it happened, a state event takes effect);
- `cutoff(d, m) < occurred_on` for a window of m months, which turns false exactly on
  `window_end(occurred_on, m)` (cutoff's invariant), for every m in `rules.window_months` (the point
  windows, the black-list triggers, the grades' and the red list's "no negative event" windows, the
  passes window and the measures' windows);
- `d < valid_until` (名牌产品, 认证).
So between two consecutive such days the answer is constant. `valid_until(facts, as_of, rules)` is the
first of them after `as_of`: the stored result answers every day in [as_of, valid_until) exactly as a
live evaluation would. It is conservative (a passing window of a rule that does not apply to the event
still ends the validity), never late."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from credit.rules.dates import window_end
from credit.rules.evaluate import EventFact
from credit.rules.ruleset import RuleSet


def valid_until(facts: Iterable[EventFact], as_of: date, rules: RuleSet) -> date | None:
    """The first day after `as_of` on which the assessment of these facts may change; None if never."""
    months = sorted(rules.window_months)
    first: date | None = None

    def consider(day: date) -> None:
        nonlocal first
        if day > as_of and (first is None or day < first):
            first = day

    for fact in facts:
        if fact.occurred_on > as_of:
            consider(fact.occurred_on)
            continue
        if fact.valid_until is not None:
            consider(fact.valid_until)
        for m in months:  # window_end grows with m: the first one past as_of is the one that matters
            end = window_end(fact.occurred_on, m)
            if end > as_of:
                consider(end)
                break
    return first


def last_negative_on(facts: Iterable[EventFact], as_of: date, rules: RuleSet) -> date | None:
    """The newest day on or before `as_of` with an event of negative points (whether it still counts or
    not): "a negative event in the last N months" on a day d in [as_of, valid_until) is then
    `cutoff(d, N) < last_negative_on`."""
    days = [
        f.occurred_on
        for f in facts
        if f.occurred_on <= as_of and (rule := rules.rule_for(f.event_type, f.severity)) is not None and rule.points < 0
    ]
    return max(days) if days else None
