"""The measures a checking department applies, by the firm's status and the purpose of the check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from credit.rules.ruleset import Measure, RuleSet


@dataclass(frozen=True)
class FirmStatus:
    """What the measures depend on: the grade, the lists in force and recent negative events."""

    grade: str
    black_listed: bool
    red_listed: bool
    negative_within: Callable[[int], bool]


def at_or_below(grade: str, level: str, rules: RuleSet) -> bool:
    """Whether `grade` is `level` or a worse grade (the rule set lists grades from best to worst)."""
    order = [g.grade for g in rules.grades]
    return grade in order and level in order and order.index(grade) >= order.index(level)


def applies(measure: Measure, status: FirmStatus, rules: RuleSet) -> bool:
    if measure.when == "black":
        return status.black_listed
    if measure.when == "red":
        return status.red_listed
    if measure.when == "grade_C":
        # 重点监管 applies to C and to every worse grade: a D firm (严重失信) is never treated more
        # leniently than a C firm, whether or not its black listing is decided yet.
        return at_or_below(status.grade, "C", rules)
    if measure.when == "black_or_negative":
        return status.black_listed or status.negative_within(measure.negative_months)
    return False


def measures_for(rules: RuleSet, purpose: str, status: FirmStatus) -> list[Measure]:
    """Every measure of the rule set that applies to this firm for this purpose, in rule order."""
    return [m for m in rules.measures if purpose in m.purposes and applies(m, status, rules)]
