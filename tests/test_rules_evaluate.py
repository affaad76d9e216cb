"""The pure evaluator (credit.rules.evaluate) against hand-built credit files, one table row per history.

HISTORIES is shared with tests/test_rules_sql.py, which holds the SQL evaluator to the same answers."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date

import pytest

from credit.rules.evaluate import EventFact, evaluate
from credit.rules.ruleset import RuleSet, default_document, default_ruleset, parse_ruleset

D = date.fromisoformat
RULES = default_ruleset()
AS_OF = "2026-10-31"  # cut-offs: 12 months 2025-10-31, 24 months 2024-10-31, 36 months 2023-10-31, 60 months 2021-10-31
RECENT = "2026-06-01"  # inside every window on AS_OF

Event = tuple[str, str | None, str, str | None]  # (event_type, severity, occurred_on, valid_until)


def ev(
    event_type: str, occurred_on: str = RECENT, severity: str | None = None, valid_until: str | None = None
) -> Event:
    return (event_type, severity, occurred_on, valid_until)


@dataclass(frozen=True)
class History:
    """A credit file, the date it is assessed on and the expected answer."""

    name: str
    events: tuple[Event, ...]
    score: int
    grade: str
    triggers: tuple[str, ...] = ()
    red: bool = False
    as_of: str = AS_OF

    def facts(self) -> list[EventFact]:
        """The events as facts; ids follow the list order (the order a same-day tie is broken by)."""
        return [
            EventFact(i, t, D(on), severity, D(until) if until else None)
            for i, (t, severity, on, until) in enumerate(self.events, start=1)
        ]


def h(name: str, events: list[Event], score: int, grade: str, *triggers: str, red: bool = False, as_of: str = AS_OF):
    return History(name, tuple(events), score, grade, triggers, red, as_of)


HISTORIES: list[History] = [
    h("no events", [], 100, "B"),
    # --- every event type's points (one recent event each) ---
    h("spot_check_pass 0", [ev("spot_check_pass")], 100, "B"),
    h("spot_check_fail general -10", [ev("spot_check_fail", severity="general")], 90, "B"),
    h("spot_check_fail serious -20", [ev("spot_check_fail", severity="serious")], 80, "C"),
    h("rectified +5", [ev("rectified")], 105, "A"),
    h("spot_check_refused -30", [ev("spot_check_refused")], 70, "D", "serious_violation"),
    h("penalty general -10", [ev("penalty", severity="general")], 90, "B"),
    h("penalty heavy -30", [ev("penalty", severity="heavy")], 70, "D", "heavy_penalty"),
    h("serious_dishonesty -50", [ev("serious_dishonesty")], 50, "D", "serious_violation"),
    h("recall_voluntary -3", [ev("recall_voluntary")], 97, "B"),
    h("recall_ordered -15", [ev("recall_ordered")], 85, "B"),
    h("complaint_substantiated -2", [ev("complaint_substantiated")], 98, "B"),
    h("interview -5", [ev("interview")], 95, "B"),
    h("false_test_data -50", [ev("false_test_data")], 50, "D", "serious_violation"),
    h("award_national +20", [ev("award_national")], 120, "A", red=True),
    h("award_provincial +15", [ev("award_provincial")], 115, "A", red=True),
    h("award_municipal +10", [ev("award_municipal")], 110, "A", red=True),
    h("famous_brand +8", [ev("famous_brand", valid_until="2028-12-31")], 108, "A", red=True),
    h("certification +3", [ev("certification", valid_until="2029-06-01")], 103, "B"),
    h("standard_leadership +3", [ev("standard_leadership")], 103, "B"),
    h("cqo_appointed +5", [ev("cqo_appointed")], 105, "A"),
    h("cqo_left alone 0", [ev("cqo_left")], 100, "B"),
    h("credit_report +2", [ev("credit_report")], 102, "B"),
    h("excellence_model +3", [ev("excellence_model")], 103, "B"),
    # --- window edges: the day before the window ends counts, the day it ends does not ---
    h("12 months: last day", [ev("interview", "2025-11-01")], 95, "B", as_of="2026-10-31"),
    h("12 months: expired", [ev("interview", "2025-11-01")], 100, "B", as_of="2026-11-01"),
    h("12 months: month-end clamp, last day", [ev("credit_report", "2024-02-29")], 102, "B", as_of="2025-02-27"),
    h("12 months: month-end clamp, expired", [ev("credit_report", "2024-02-29")], 100, "B", as_of="2025-02-28"),
    h("24 months: last day (SPEC example)", [ev("rectified", "2024-11-01")], 105, "A", as_of="2026-10-31"),
    h("24 months: expired (SPEC example)", [ev("rectified", "2024-11-01")], 100, "B", as_of="2026-11-01"),
    h("24 months: general failure, last day", [ev("spot_check_fail", "2024-11-01", "general")], 90, "B"),
    h("24 months: general failure, expired", [ev("spot_check_fail", "2024-10-31", "general")], 100, "B"),
    h("36 months: last day", [ev("penalty", "2023-11-01", "general")], 90, "B", as_of="2026-10-31"),
    h("36 months: expired", [ev("penalty", "2023-11-01", "general")], 100, "B", as_of="2026-11-01"),
    h("36 months: month-end clamp", [ev("award_municipal", "2023-03-31")], 110, "A", red=True, as_of="2026-03-30"),
    h("36 months: month-end clamp, expired", [ev("award_municipal", "2023-03-31")], 100, "B", as_of="2026-03-31"),
    h("60 months: last day", [ev("award_national", "2021-11-01")], 120, "A", red=True),
    h("60 months: expired", [ev("award_national", "2021-10-31")], 100, "B"),
    h("occurred after as_of: positive", [ev("award_national", "2026-11-01")], 100, "B"),
    h("occurred after as_of: negative", [ev("serious_dishonesty", "2026-11-01")], 100, "B"),
    h("occurred on as_of counts", [ev("penalty", AS_OF, "heavy")], 70, "D", "heavy_penalty"),
    # --- until_valid: while as_of < valid_until, else 36 months ---
    h("famous_brand valid, old", [ev("famous_brand", "2019-01-01", valid_until="2026-11-01")], 108, "A", red=True),
    h("famous_brand expires on as_of", [ev("famous_brand", "2026-01-01", valid_until=AS_OF)], 100, "B"),
    h("famous_brand no valid_until, last day", [ev("famous_brand", "2023-11-01")], 108, "A", red=True),
    h("famous_brand no valid_until, expired", [ev("famous_brand", "2023-10-31")], 100, "B"),
    h("famous_brand valid but after as_of", [ev("famous_brand", "2026-11-01", valid_until="2029-01-01")], 100, "B"),
    h("certification valid, old", [ev("certification", "2018-05-05", valid_until="2027-05-05")], 103, "B"),
    h("certification no valid_until, expired", [ev("certification", "2023-10-31")], 100, "B"),
    h("certification no valid_until, counts", [ev("certification", "2024-01-01")], 103, "B"),
    # --- caps ---
    h("complaints 4: -8", [ev("complaint_substantiated", f"2026-0{m}-01") for m in range(1, 5)], 92, "B"),
    h("complaints 5: -10", [ev("complaint_substantiated", f"2026-0{m}-01") for m in range(1, 6)], 90, "B"),
    h("complaints 7: capped at -10", [ev("complaint_substantiated", f"2026-0{m}-01") for m in range(1, 8)], 90, "B"),
    h("standard_leadership 3: +9", [ev("standard_leadership", f"2025-0{m}-01") for m in range(1, 4)], 109, "A"),
    h(
        "standard_leadership 4: capped at +9",
        [ev("standard_leadership", f"2025-0{m}-01") for m in range(1, 5)],
        109,
        "A",
    ),
    h("positive cap +30", [ev("award_national"), ev("award_provincial")], 130, "A", red=True),
    h(
        "positive cap with every plus",
        [ev("award_national"), ev("award_provincial"), ev("rectified")],
        130,
        "A",
        red=True,
    ),
    h(
        "positive cap counts CQO",
        [ev("award_national"), ev("award_municipal"), ev("cqo_appointed")],
        130,
        "A",
        red=True,
    ),
    h(
        "positive 29 under the cap",
        [
            ev("award_national"),
            ev("certification", valid_until="2027-01-01"),
            ev("excellence_model"),
            ev("standard_leadership"),
        ],
        129,
        "A",
        red=True,
    ),
    h(
        "an old negative: A but not red",
        [ev("award_national"), ev("famous_brand", valid_until="2027-01-01"), ev("recall_voluntary", "2024-01-01")],
        128,
        "A",
    ),
    h(
        "cap then negatives",
        [ev("award_national"), ev("award_provincial"), ev("penalty", severity="general")],
        120,
        "B",
    ),
    h(
        "capped type under the +30 cap",
        [ev("award_national"), *[ev("standard_leadership", f"2025-0{m}-01") for m in range(1, 6)]],
        129,
        "A",
        red=True,
    ),
    # --- 首席质量官 state ---
    h("CQO appointed long ago", [ev("cqo_appointed", "2010-01-01")], 105, "A"),
    h("CQO appointed then left", [ev("cqo_appointed", "2020-01-01"), ev("cqo_left", "2025-01-01")], 100, "B"),
    h(
        "CQO re-appointed",
        [ev("cqo_appointed", "2020-01-01"), ev("cqo_left", "2025-01-01"), ev("cqo_appointed", "2026-03-01")],
        105,
        "A",
    ),
    h(
        "CQO events out of order in the file",
        [ev("cqo_left", "2025-01-01"), ev("cqo_appointed", "2020-01-01")],
        100,
        "B",
    ),
    h("CQO same day: left recorded last", [ev("cqo_appointed", "2026-01-05"), ev("cqo_left", "2026-01-05")], 100, "B"),
    h(
        "CQO same day: appointed recorded last",
        [ev("cqo_left", "2026-01-05"), ev("cqo_appointed", "2026-01-05")],
        105,
        "A",
    ),
    h("CQO left after as_of", [ev("cqo_appointed", "2024-01-01"), ev("cqo_left", "2026-11-01")], 105, "A"),
    h("CQO appointed after as_of", [ev("cqo_appointed", "2026-11-01")], 100, "B"),
    # --- grade boundaries ---
    h("105 is A", [ev("credit_report"), ev("excellence_model")], 105, "A"),
    h("104 is B", [ev("credit_report"), ev("credit_report", "2026-02-01")], 104, "B"),
    h("85 is B", [ev("penalty", severity="general"), ev("interview")], 85, "B"),
    h(
        "84 is C",
        [ev("penalty", severity="general"), *[ev("complaint_substantiated", f"2026-0{m}-01") for m in (1, 2, 3)]],
        84,
        "C",
    ),
    h(
        "60 is C",
        [
            *[ev("penalty", f"2025-0{m}-01", "general") for m in (1, 2, 3)],
            ev("interview"),
            ev("interview", "2026-02-02"),
        ],
        60,
        "C",
    ),
    h(
        "59 is D",
        [
            *[ev("penalty", f"2025-0{m}-01", "general") for m in (1, 2, 3)],
            ev("recall_voluntary"),
            ev("recall_voluntary", "2026-02-02"),
            ev("interview"),
        ],
        59,
        "D",
    ),
    h("A refused: negative inside 24 months", [ev("award_national"), ev("penalty", "2024-11-01", "general")], 110, "B"),
    h(
        "A allowed: negative exactly 24 months old",
        [ev("award_national"), ev("penalty", "2024-10-31", "general")],
        110,
        "A",
    ),
    h(
        "A allowed: negative 24 months + 1 day old",
        [ev("award_national"), ev("penalty", "2024-10-30", "general")],
        110,
        "A",
    ),
    h("zero-point events are not negative", [ev("rectified"), ev("cqo_left")], 105, "A"),
    # --- black-list triggers at their threshold and one below ---
    h(
        "serious_dishonesty at 36 months: last day",
        [ev("serious_dishonesty", "2023-11-01")],
        50,
        "D",
        "serious_violation",
    ),
    h("serious_dishonesty expired", [ev("serious_dishonesty", "2023-10-31")], 100, "B"),
    h("false_test_data in 36 months", [ev("false_test_data", "2024-01-01")], 50, "D", "serious_violation"),
    h("spot_check_refused expired", [ev("spot_check_refused", "2023-10-31")], 100, "B"),
    h("heavy penalty", [ev("penalty", "2024-01-01", "heavy")], 70, "D", "heavy_penalty"),
    h("general penalty is no trigger", [ev("penalty", "2024-01-01", "general")], 90, "B"),
    h(
        "2 serious failures",
        [ev("spot_check_fail", "2024-01-01", "serious"), ev("spot_check_fail", "2026-01-01", "serious")],
        60,
        "D",
        "serious_failures",
    ),
    h(
        "1 serious failure",
        [ev("spot_check_fail", "2024-01-01", "serious"), ev("spot_check_fail", "2023-10-31", "serious")],
        80,
        "C",
    ),
    h(
        "3 failures in 36 months, 2 count for points",
        [
            ev("spot_check_fail", "2024-01-01", "general"),
            ev("spot_check_fail", "2025-06-01", "general"),
            ev("spot_check_fail", "2026-01-01", "general"),
        ],
        80,
        "D",
        "repeated_failures",
    ),
    h(
        "2 failures",
        [ev("spot_check_fail", "2025-06-01", "general"), ev("spot_check_fail", "2026-01-01", "general")],
        80,
        "C",
    ),
    h(
        "3 serious failures: two triggers in rule order",
        [ev("spot_check_fail", f"2026-0{m}-01", "serious") for m in (1, 2, 3)],
        40,
        "D",
        "serious_failures",
        "repeated_failures",
    ),
    h(
        "every trigger",
        [
            ev("penalty", severity="heavy"),
            ev("false_test_data"),
            *[ev("spot_check_fail", f"2026-0{m}-01", "serious") for m in (1, 2, 3)],
        ],
        -40,
        "D",
        "serious_violation",
        "heavy_penalty",
        "serious_failures",
        "repeated_failures",
    ),
    h(
        "trigger forces D at a high score",
        [ev("award_national"), ev("award_provincial"), ev("spot_check_refused")],
        100,
        "D",
        "serious_violation",
    ),
    # --- red eligibility ---
    h("red via award", [ev("award_provincial", "2024-01-01")], 115, "A", red=True),
    h(
        "red via famous brand with valid_until",
        [ev("famous_brand", "2015-01-01", valid_until="2027-01-01")],
        108,
        "A",
        red=True,
    ),
    h(
        "red via 3 passes",
        [ev("rectified"), *[ev("spot_check_pass", f"202{y}-05-01") for y in (4, 5, 6)]],
        105,
        "A",
        red=True,
    ),
    h("no red with 2 passes", [ev("rectified"), *[ev("spot_check_pass", f"202{y}-05-01") for y in (5, 6)]], 105, "A"),
    h(
        "no red: 3rd pass outside 36 months",
        [ev("rectified"), *[ev("spot_check_pass", d) for d in ("2023-10-31", "2025-01-01", "2026-01-01")]],
        105,
        "A",
    ),
    h(
        "red: 3rd pass on the window's last day",
        [ev("rectified"), *[ev("spot_check_pass", d) for d in ("2023-11-01", "2025-01-01", "2026-01-01")]],
        105,
        "A",
        red=True,
    ),
    h("no red: negative in 36 months", [ev("award_national"), ev("penalty", "2024-05-01", "general")], 110, "A"),
    h(
        "red: negative 36 months old",
        [ev("award_national"), ev("spot_check_fail", "2023-10-31", "serious")],
        120,
        "A",
        red=True,
    ),
    h("no red at grade B", [*[ev("spot_check_pass", f"202{y}-05-01") for y in (4, 5, 6)]], 100, "B"),
    h("no red: honour no longer counts", [ev("rectified"), ev("award_municipal", "2023-10-31")], 105, "A"),
    h(
        "no red: famous brand expired",
        [ev("rectified"), ev("famous_brand", "2026-01-01", valid_until="2026-10-01")],
        105,
        "A",
    ),
    # --- events without a rule: a failure with no severity scores nothing but is still a failure ---
    h("failure without severity", [ev("spot_check_fail", "2026-01-01")], 100, "B"),
    h(
        "failures without severity still trigger",
        [ev("spot_check_fail", f"2026-0{m}-01") for m in (1, 2, 3)],
        100,
        "D",
        "repeated_failures",
    ),
    h("a severity on a type without severities", [ev("award_municipal", severity="serious")], 110, "A", red=True),
]


@pytest.mark.parametrize("history", HISTORIES, ids=[x.name for x in HISTORIES])
def test_history(history: History):
    result = evaluate(history.facts(), D(history.as_of), RULES)
    assert (result.score, result.grade, result.triggers, result.red_eligible) == (
        history.score,
        history.grade,
        history.triggers,
        history.red,
    )


def test_every_event_type_is_covered():
    """The table gives every (type, severity) rule of the default set at least one history."""
    covered = {(t, s) for x in HISTORIES for t, s, _, _ in x.events}
    assert set(RULES.points) <= covered


def test_explanation_lists_counted_events_and_criteria():
    facts = [
        EventFact(1, "award_national", D("2026-01-10")),
        EventFact(2, "award_provincial", D("2025-03-01")),
        EventFact(3, "spot_check_fail", D("2025-06-01"), "serious"),
        EventFact(4, "spot_check_fail", D("2026-02-01"), "serious"),
        EventFact(5, "interview", D("2025-10-31")),  # 12 months old on AS_OF: not counted
        *(EventFact(10 + m, "complaint_substantiated", D(f"2026-0{m}-01")) for m in range(1, 7)),
    ]
    result = evaluate(facts, D(AS_OF), RULES.with_version(7))
    counted = {c.event_id: c.points for c in result.counted}
    assert counted == {1: 20, 2: 15, 3: -20, 4: -20, **{10 + m: -2 for m in range(1, 7)}}
    assert [c.occurred_on for c in result.counted] == sorted(c.occurred_on for c in result.counted)
    award = next(c for c in result.counted if c.event_id == 1)
    assert award.counts_until == D("2031-01-10")
    assert result.positive_points == 35
    assert result.negative_points == -50  # -40 for the failures, -10 for the capped complaints
    assert result.capped == {"complaint_substantiated": -2, "positive_cap": 5}
    assert result.score == 100 + 30 - 50
    assert result.triggers == ("serious_failures",)
    assert result.grade == "D"
    assert result.rule_set_version == 7
    text = "\n".join(result.criteria)
    assert "按上限计 -10 分" in text
    assert "按上限计 30 分" in text
    assert "得分 80 ≥ 60 → C 级" in text
    assert "黑名单情形:" + RULES.triggers[2].label in text
    assert "存在黑名单情形 → D 级" in text


def test_explanation_of_grade_a_refused_and_red():
    refused = evaluate(
        [EventFact(1, "award_national", D("2026-01-10")), EventFact(2, "interview", D("2026-02-01"))], D(AS_OF), RULES
    )
    assert refused.grade == "B"
    assert any("不评 A 级" in c for c in refused.criteria)
    assert any("→ B 级" in c for c in refused.criteria)

    red = evaluate([EventFact(1, "famous_brand", D("2020-01-10"), valid_until=D("2027-01-01"))], D(AS_OF), RULES)
    assert red.red_eligible
    assert red.counted[0].counts_until == D("2027-01-01")
    assert any("符合红榜条件" in c for c in red.criteria)

    cqo = evaluate([EventFact(1, "cqo_appointed", D("2020-01-10"))], D(AS_OF), RULES)
    assert [(c.event_id, c.points, c.counts_until) for c in cqo.counted] == [(1, 5, None)]


def variant_ruleset() -> RuleSet:
    """A changed rule set: other points, caps and thresholds, and a type with points of both signs."""
    doc = copy.deepcopy(default_document())
    doc["positive_cap"] = 40
    doc["events"]["award_municipal"]["points"] = 25
    doc["events"]["spot_check_fail"]["general"]["points"] = 4  # mixed signs within one type
    doc["events"]["complaint_substantiated"]["cap"] = -4
    doc["events"]["cqo_appointed"]["points"] = 12
    doc["events"]["credit_report"]["months"] = 6
    doc["grades"][0]["min_score"] = 120
    doc["black_triggers"][3]["min_count"] = 2
    doc["red"]["passes_min"] = 2
    return parse_ruleset(doc, version=2)


VARIANT = variant_ruleset()


@pytest.mark.parametrize(
    ("events", "default", "variant"),
    [
        ([ev("award_municipal"), ev("award_national")], (130, "A", (), True), (140, "A", (), True)),
        ([ev("award_municipal")], (110, "A", (), True), (125, "A", (), True)),
        ([ev("spot_check_fail", severity="general")], (90, "B", (), False), (104, "B", (), False)),
        (
            [ev("complaint_substantiated", f"2026-0{m}-01") for m in (1, 2, 3)],
            (94, "B", (), False),
            (96, "B", (), False),
        ),
        ([ev("cqo_appointed"), ev("credit_report", "2026-03-01")], (107, "A", (), False), (112, "B", (), False)),
        ([ev("credit_report", "2026-04-30")], (102, "B", (), False), (100, "B", (), False)),
        (
            [ev("spot_check_fail", "2026-01-01", "general"), ev("spot_check_fail", "2026-02-01", "general")],
            (80, "C", (), False),
            (108, "D", ("repeated_failures",), False),
        ),
        (
            [ev("award_provincial"), ev("award_national"), *[ev("spot_check_pass", f"202{y}-05-01") for y in (5, 6)]],
            (130, "A", (), True),
            (135, "A", (), True),
        ),
        (
            [
                ev("rectified"),
                *[ev("standard_leadership", f"2025-0{m}-01") for m in (1, 2, 3)],
                ev("cqo_appointed"),
                ev("spot_check_pass"),
                ev("spot_check_pass", "2025-06-01"),
            ],
            (119, "A", (), False),
            (126, "A", (), True),
        ),
    ],
)
def test_a_changed_rule_set_changes_the_result(events: list[Event], default: tuple, variant: tuple):
    facts = History("x", tuple(events), 0, "").facts()
    for rules, expected in ((RULES, default), (VARIANT, variant)):
        result = evaluate(facts, D(AS_OF), rules)
        assert (result.score, result.grade, result.triggers, result.red_eligible) == expected
    assert evaluate(facts, D(AS_OF), VARIANT).rule_set_version == 2
