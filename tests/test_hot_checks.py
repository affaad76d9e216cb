"""The credit-check hot path (credit.services.hot_checks) answers exactly as the live evaluation
(`check_firm`) does, for random histories, assessment days and check days, whether the stored assessment
was written per firm (reassess_firms) or set-based (assess_all); and its caches follow the configuration
version (a new rule set, a revoked key) from the next request on."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from credit.clock import today_is
from credit.models import Firm, FirmAssessment, RuleSetVersion
from credit.models.assessment import VALID_FOREVER
from credit.rules.ruleset import PURPOSES
from credit.services.apikeys import create_api_key, revoke_api_key
from credit.services.assessment import assess_all, reassess_firms
from credit.services.check_log import get_check
from credit.services.checks import CheckError, check_firm
from credit.services.events import approve_event, record_event, revoke_event
from credit.services.hot_checks import (
    Caller,
    ConfigCache,
    answer_checks,
    authenticate,
    log_answers,
    read_config_version,
)
from credit.services.rulesets import activate_version, save_version
from credit.services.signing import signer_for
from tests.factories import make_firm, make_user
from tests.test_rules_sql import CATALOGUE, a_day_near, add_event, an_event

LAST_DAY = date(2034, 12, 31)  # the clock of these tests: every generated day is on or before it


def hot(session, firm: Firm, purpose: str, day: date, cache: ConfigCache | None = None):
    answers, _ = answer_checks(
        session.connection(), [firm.uscc], purpose=purpose, as_of=day, cache=cache or ConfigCache()
    )
    return answers[firm.uscc]


@st.composite
def a_story(draw):
    """A firm's events, the day its assessment was stored, how, and a check on some later or earlier day."""
    assessed = draw(st.dates(min_value=date(2016, 1, 1), max_value=date(2032, 12, 31)))
    types = draw(st.lists(st.sampled_from(CATALOGUE), min_size=1, max_size=5, unique=True))
    if draw(st.booleans()):
        types += ["cqo_appointed", "cqo_left"]
    days = [min(d, LAST_DAY) for d in draw(st.lists(a_day_near(assessed), min_size=1, max_size=6))]
    events = draw(st.lists(an_event(types, days), max_size=12))
    kind = draw(st.sampled_from(("soon", "edge", "far", "before")))
    if kind == "soon":
        checked = assessed + timedelta(days=draw(st.integers(0, 400)))
    elif kind == "far":
        checked = assessed + timedelta(days=draw(st.integers(0, 3000)))
    elif kind == "before":
        checked = assessed - timedelta(days=draw(st.integers(1, 400)))
    else:  # next to some event's day or a window's end after it
        checked = draw(st.sampled_from(days)) + timedelta(days=draw(st.sampled_from((0, 1, 365, 366, 730, 731))))
    how = draw(st.sampled_from(("per_firm", "set_based")))
    return events, assessed, min(checked, LAST_DAY), how, draw(st.sampled_from(PURPOSES))


@pytest.fixture
def one_firm(session) -> Firm:
    firm = make_firm(session)
    session.flush()
    return firm


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(story=a_story())
def test_the_hot_path_answers_as_the_live_evaluation(session, one_firm, story):
    events, assessed, checked, how, purpose = story
    nested = session.begin_nested()
    try:
        with today_is(LAST_DAY):
            for event in events:
                add_event(session, one_firm.id, *event)
            session.flush()
            if how == "per_firm":
                reassess_firms(session, [one_firm.id], as_of=assessed)
            else:
                assess_all(session, as_of=assessed)
            session.flush()
            stored = session.get(FirmAssessment, one_firm.id)
            answer = hot(session, one_firm, purpose, checked)
            assert answer.answer == check_firm(session, one_firm, purpose=purpose, as_of=checked).as_dict()
            # The stored row was used exactly when it holds for the day.
            in_validity = stored.as_of <= checked < stored.valid_until
            assert answer.live is not in_validity
    finally:
        nested.rollback()
        session.expunge_all()  # rows of this example are gone: keep no object of them for the next


def test_a_firm_without_events_is_answered_from_its_row_forever(session, one_firm):
    reassess_firms(session, [one_firm.id])
    session.flush()
    stored = session.get(FirmAssessment, one_firm.id)
    assert stored.valid_until == VALID_FOREVER and stored.last_negative_on is None
    answer = hot(session, one_firm, "permit", stored.as_of)
    assert not answer.live
    assert answer.answer == check_firm(session, one_firm, purpose="permit").as_dict()


def test_an_event_ends_the_validity_on_its_window_end(session, one_firm):
    add_event(session, one_firm.id, "interview", None, date(2026, 3, 31), None)  # -5 for 12 months
    session.flush()
    reassess_firms(session, [one_firm.id])
    session.flush()
    stored = session.get(FirmAssessment, one_firm.id)
    assert stored.valid_until == date(2027, 3, 31)
    assert stored.last_negative_on == date(2026, 3, 31)


def test_no_row_or_another_day_is_answered_live(session, one_firm):
    answer = hot(session, one_firm, "award", None)  # never assessed
    assert answer.live and answer.answer == check_firm(session, one_firm, purpose="award").as_dict()
    reassess_firms(session, [one_firm.id])
    session.flush()
    assert hot(session, one_firm, "award", date(2026, 1, 1)).live  # before the row's day


def test_unknown_codes_bad_purposes_and_future_days(session, one_firm):
    answers, _ = answer_checks(
        session.connection(), ["914403001922038216"], purpose="permit", as_of=None, cache=ConfigCache()
    )
    assert answers == {}
    with pytest.raises(CheckError):
        answer_checks(session.connection(), [one_firm.uscc], purpose="lottery", as_of=None, cache=ConfigCache())
    with pytest.raises(CheckError):
        answer_checks(
            session.connection(), [one_firm.uscc], purpose="permit", as_of=date(2099, 1, 1), cache=ConfigCache()
        )


def test_a_new_active_rule_set_is_seen_by_the_next_check(session, one_firm):
    reassess_firms(session, [one_firm.id])
    session.flush()
    cache = ConfigCache()
    first = hot(session, one_firm, "permit", None, cache)
    assert not first.live and first.answer["rule_set"] == 1
    document = session.exec(select(RuleSetVersion)).one()
    row = save_version(session, _with_base(document.source_text, 90), note="t", created_by="t")
    activate_version(session, row.version)
    session.flush()
    second = hot(session, one_firm, "permit", None, cache)
    # The stored row is of version 1: the new rules are evaluated live, with their own base score.
    assert second.live and second.answer["rule_set"] == row.version and second.answer["score"] == 90
    assert cache.version == read_config_version(session.connection())


def _with_base(source: str, base: int) -> str:
    changed, n = re.subn(r"(?m)^base_score\s*=\s*\d+", f"base_score = {base}", source)
    assert n == 1
    return changed


def test_a_revoked_key_fails_from_the_next_request(session):
    issued = create_api_key(session, department="财政局", scopes="check")
    session.flush()
    cache = ConfigCache()
    cache.sync(read_config_version(session.connection()))
    key = authenticate(session.connection(), cache, issued.token)
    assert key is not None and key.department == "财政局"
    assert authenticate(session.connection(), cache, issued.token.split(".")[0] + ".wrong") is None
    revoke_api_key(session, issued.key)
    assert cache.sync(read_config_version(session.connection()))  # the trigger bumped the version
    assert authenticate(session.connection(), cache, issued.token) is None


def test_log_answers_is_one_insert_with_receipts(session, one_firm, tmp_path):
    reassess_firms(session, [one_firm.id])
    session.flush()
    answers, _ = answer_checks(
        session.connection(), [one_firm.uscc], purpose="bidding", as_of=None, cache=ConfigCache()
    )
    given = [
        row["answer"]
        for row in log_answers(
            session.connection(),
            list(answers.values()),
            Caller("cli", department="命令行"),
            signer=signer_for(session, tmp_path),
        )
    ]
    logged = get_check(session, given[0]["check_id"])
    assert logged is not None and logged.answer == given[0] and logged.channel == "cli"
    assert logged.purpose == "bidding" and logged.grade == given[0]["grade"]
    assert given[0]["key_id"] and given[0]["signature"]  # the stored answer is the signed one


def test_approving_and_revoking_keep_the_stored_answer_current(session, one_firm):
    """Every change to the file re-assesses the firm in its own transaction: the hot path then answers
    from the row (not live) and already shows the change."""
    recorder, reviewer = make_user(session), make_user(session, role="reviewer")
    reassess_firms(session, [one_firm.id])
    session.flush()
    before = hot(session, one_firm, "award", None)
    event = record_event(
        session,
        {
            "uscc": one_firm.uscc,
            "event_type": "penalty",
            "severity": "heavy",
            "occurred_on": "2026-10-01",
            "document_no": "东市监罚〔2026〕1号",
            "authority": "东莞市市场监督管理局",
            "amount": "50000",
        },
        recorder=recorder,
    )
    approve_event(session, event, reviewer)
    after = hot(session, one_firm, "award", None)
    assert not after.live and after.answer["grade"] == "D" != before.answer["grade"]
    assert after.answer == check_firm(session, one_firm, purpose="award").as_dict()
    assert [entry["status"] for entry in after.answer["lists"]] == ["proposed"]  # the black proposal
    revoke_event(session, event, reviewer, "文书错误")
    revoked = hot(session, one_firm, "award", None)
    assert not revoked.live and revoked.answer == check_firm(session, one_firm, purpose="award").as_dict()
    assert revoked.answer["grade"] == before.answer["grade"] and revoked.answer["lists"] == []
