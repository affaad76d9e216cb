"""The set-based SQL evaluator (credit.rules.sql) holds to the pure one (credit.rules.evaluate): the same
histories, written to the real database, give the same score, grade, triggers and red eligibility for
every firm — on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from credit.catalog import EVENT_TYPES
from credit.models import CreditEvent
from credit.models.assessment import VALID_FOREVER
from credit.rules.dates import add_months
from credit.rules.evaluate import EventFact, evaluate
from credit.rules.ruleset import RuleSet, default_document, parse_ruleset
from credit.rules.sql import assessment_query, explain_sql
from credit.rules.validity import last_negative_on, valid_until
from tests.factories import make_firm
from tests.test_rules_evaluate import HISTORIES, RULES, VARIANT, D

Answer = tuple[int, str, tuple[str, ...], bool, tuple[str, ...], date, date | None]
_documents = count(1)
IGNORED_STATUSES = ("pending", "rejected", "revoked")


def add_event(
    session,
    firm_id: int,
    event_type: str,
    severity: str | None,
    occurred_on: date,
    valid_until: date | None,
    status: str = "effective",
) -> CreditEvent:
    event = CreditEvent(
        firm_id=firm_id,
        event_type=event_type,
        severity=severity,
        occurred_on=occurred_on,
        valid_until=valid_until,
        status=status,
        document_no=f"SQL-TEST-{next(_documents)}",
        authority="x",
    )
    session.add(event)
    return event


def add_ignored_events(session, firm_id: int, on: date) -> None:
    """Events that would change every answer if they counted: they are not effective, so they must not."""
    add_event(session, firm_id, "serious_dishonesty", None, on, None, "pending")
    add_event(session, firm_id, "award_national", None, on, None, "revoked")
    add_event(session, firm_id, "penalty", "heavy", on, None, "rejected")
    add_event(session, firm_id, "cqo_left", None, on, None, "revoked")


def facts_of(events: list[CreditEvent]) -> list[EventFact]:
    """The effective events as the pure evaluator sees them, with their database ids."""
    return [
        EventFact(e.id, e.event_type, e.occurred_on, e.severity, e.valid_until)  # type: ignore[arg-type]
        for e in events
        if e.status == "effective"
    ]


def pure(facts: list[EventFact], as_of: date, rules: RuleSet) -> Answer:
    result = evaluate(facts, as_of, rules)
    # The SQL pass reads events up to as_of only: its validity is that of the events known on as_of
    # (assess_all expires the rows of firms with later events).
    known = [f for f in facts if f.occurred_on <= as_of]
    return (
        result.score,
        result.grade,
        result.triggers,
        result.red_eligible,
        result.red_basis,
        valid_until(known, as_of, rules) or VALID_FOREVER,
        last_negative_on(known, as_of, rules),
    )


def sql(session, rules: RuleSet, as_of: date) -> dict[int, Answer]:
    """Every firm's answer from the SQL evaluator, checking the column types on the way."""
    answers = {}
    for row in session.execute(assessment_query(rules, as_of)):
        assert isinstance(row.score, int)
        assert row.grade in {"A", "B", "C", "D"}
        assert isinstance(row.triggers, str)
        assert isinstance(row.red_eligible, bool)
        triggers = tuple(row.triggers.split(",")) if row.triggers else ()
        red_basis = tuple(row.red_basis.split(",")) if row.red_basis else ()
        assert isinstance(row.valid_until, date)
        assert row.last_negative_on is None or isinstance(row.last_negative_on, date)
        answers[row.firm_id] = (
            row.score,
            row.grade,
            triggers,
            row.red_eligible,
            red_basis,
            row.valid_until,
            row.last_negative_on,
        )
    return answers


@pytest.fixture
def history_firms(session) -> dict[int, tuple[object, list[CreditEvent]]]:
    """One firm per history of the table, plus ignored events on each; firm id -> (history, events)."""
    firms = {}
    for history in HISTORIES:
        firm_id = make_firm(session).id
        events = []
        for event_type, severity, on, until in history.events:
            events.append(add_event(session, firm_id, event_type, severity, D(on), D(until) if until else None))
            session.flush()  # one at a time: ids follow the list order, which breaks same-day ties
        add_ignored_events(session, firm_id, D(history.as_of) - timedelta(days=10))
        session.flush()
        firms[firm_id] = (history, events)
    return firms


def test_histories_give_the_expected_answer_in_sql(session, history_firms):
    for as_of in sorted({D(history.as_of) for history, _ in history_firms.values()}):
        answers = sql(session, RULES, as_of)
        assert set(history_firms) <= set(answers)
        for firm_id, (history, events) in history_firms.items():
            expected = pure(facts_of(events), as_of, RULES)
            assert answers[firm_id] == expected, (history.name, as_of)
            if D(history.as_of) == as_of:
                assert expected[:4] == (history.score, history.grade, history.triggers, history.red), history.name
                assert bool(expected[4]) == history.red, history.name


def test_histories_under_a_changed_rule_set(session, history_firms):
    as_of = D("2026-10-31")
    default, variant = sql(session, RULES, as_of), sql(session, VARIANT, as_of)
    for firm_id, (history, events) in history_firms.items():
        assert variant[firm_id] == pure(facts_of(events), as_of, VARIANT), history.name
    assert default != variant


def test_a_firm_with_no_effective_events(session):
    empty = make_firm(session).id
    only_ignored = make_firm(session).id
    add_ignored_events(session, only_ignored, D("2026-01-01"))
    session.flush()
    answers = sql(session, RULES, D("2026-10-31"))
    assert answers[empty] == answers[only_ignored] == (RULES.base_score, "B", (), False, (), VALID_FOREVER, None)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_explain_sql_writes_the_dates_in(dialect: str):
    statement = explain_sql(RULES, D("2026-10-31"), dialect)
    assert "'2026-10-31'" in statement
    assert "'2024-10-31'" in statement  # the 24-month cut-off
    assert "GROUP BY credit_event.firm_id" in statement
    assert ":as_of" not in statement


def test_explain_sql_runs_as_text(session, history_firms):
    as_of = D("2026-10-31")
    statement = explain_sql(RULES, as_of, session.get_bind().dialect.name)
    rows = {
        row.firm_id: (row.score, row.grade, row.triggers, bool(row.red_eligible))
        for row in session.execute(text(statement))
    }
    expected = {firm_id: (a[0], a[1], ",".join(a[2]), a[3]) for firm_id, a in sql(session, RULES, as_of).items()}
    assert rows == expected


# --- random histories: SQL == pure for every firm --------------------------------------------------------


def unusual_ruleset(*, state_points: int) -> RuleSet:
    """Corners the default never reaches: a capped state type that is also an honour (or whose start takes
    points away), a positive cap of zero, a grade B that also wants no negative event, red at grade B."""
    doc = default_document()
    doc["events"]["cqo_appointed"] = {"points": state_points, "state": "start", "cap": -1}
    doc["events"]["cqo_left"] = {"points": 2, "state": "end"}
    doc["events"]["interview"]["points"] = 6
    doc["positive_cap"] = 0 if state_points < 0 else 5
    doc["grades"][1]["no_negative_months"] = 12
    doc["grades"][1]["min_score"] = 96
    doc["red"]["honours"] = ["cqo_appointed", "certification"]
    doc["red"]["grade"] = "B"
    return parse_ruleset(doc, version=3)


UNUSUAL = unusual_ruleset(state_points=4)
NEGATIVE_STATE = unusual_ruleset(state_points=-4)

WINDOW_EDGES = (12, 24, 36, 60)
CATALOGUE = sorted(EVENT_TYPES)
SEVERITIES = (None, "general", "serious", "heavy")


@st.composite
def a_day_near(draw, as_of: date) -> date:
    """A day within ±8 years of as_of, often in the last year, on or next to a window's edge or as_of."""
    kind = draw(st.sampled_from(("any", "recent", "edge", "as_of")))
    if kind == "any":
        return as_of + timedelta(days=draw(st.integers(-2922, 2922)))
    if kind == "recent":
        return as_of - timedelta(days=draw(st.integers(0, 366)))
    shift = timedelta(days=draw(st.integers(-2, 2)))
    if kind == "as_of":
        return as_of + shift
    return add_months(as_of, -draw(st.sampled_from(WINDOW_EDGES))) + shift


@st.composite
def an_event(draw, types: list[str], days: list[date]) -> tuple[str, str | None, date, date | None, str]:
    event_type = draw(st.sampled_from(types))
    own = EVENT_TYPES[event_type].severities
    # Mostly the catalogue's severities, sometimes one the type does not have (or none at all).
    severity = draw(st.sampled_from(own) if own and draw(st.booleans()) else st.sampled_from(SEVERITIES))
    occurred_on = draw(st.sampled_from(days))
    valid_until = draw(st.none() | st.sampled_from(days))
    status = draw(st.sampled_from(("effective",) * 6 + IGNORED_STATUSES))
    return (event_type, severity, occurred_on, valid_until, status)


@st.composite
def a_city(draw):
    as_of = draw(st.dates(min_value=date(2016, 1, 1), max_value=date(2034, 12, 31)))
    # A few types and days per example, so that caps, thresholds and same-day ties come up often.
    types = draw(st.lists(st.sampled_from(CATALOGUE), min_size=1, max_size=5, unique=True))
    extra = draw(st.sampled_from(("none", "state", "capped")))
    if extra == "state":
        types += ["cqo_appointed", "cqo_left"]  # the state pair, often on one day
    elif extra == "capped":
        types = [draw(st.sampled_from(("complaint_substantiated", "standard_leadership")))]  # past the cap
    days = draw(st.lists(a_day_near(as_of), min_size=1, max_size=6))
    files = draw(st.lists(st.lists(an_event(types, days), max_size=14), min_size=3, max_size=3))
    return as_of, files


@pytest.fixture
def three_firms(session) -> list[int]:
    ids = [make_firm(session).id for _ in range(3)]
    session.flush()
    return ids


@pytest.mark.parametrize(
    "rules",
    [RULES, VARIANT, UNUSUAL, NEGATIVE_STATE],
    ids=["default", "variant", "unusual", "negative_state"],
)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(city=a_city())
def test_random_histories_sql_equals_pure(session, three_firms, rules: RuleSet, city):
    as_of, files = city
    nested = session.begin_nested()  # each example starts from the same three empty firms
    try:
        events = {
            firm_id: [add_event(session, firm_id, *event) for event in file]
            for firm_id, file in zip(three_firms, files, strict=True)
        }
        session.flush()
        answers = sql(session, rules, as_of)
        for firm_id, firm_events in events.items():
            assert answers[firm_id] == pure(facts_of(firm_events), as_of, rules)
    finally:
        nested.rollback()
