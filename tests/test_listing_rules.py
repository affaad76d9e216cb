"""The listing lifecycle is one set of rules (credit/rules/listings.py): the per-firm path (sync_listings,
run when an event changes) and the city-wide set-based path (assess_all, run nightly) make the same
listings from the same histories; end codes, not texts, decide what the public sees; migration 0006
backfilled end codes from the texts listings ended with."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session, select

from credit.models import CreditEvent, FirmAssessment, Listing
from credit.rules.listings import (
    END_LABELS,
    EndCode,
    decision_refusal,
    hidden_from_public,
    proposal_due,
    red_step,
)
from credit.rules.ruleset import default_ruleset
from credit.services.assessment import assess_all, reassess_firms
from credit.services.listings import end_listing, open_listing
from credit.services.rulesets import ensure_default_ruleset
from tests.factories import make_firm

RULES = default_ruleset()
TODAY = date(2026, 11, 22)
# The types the listing rules turn on: black triggers, red honours and passes, and negatives.
TYPES = [
    ("penalty", "heavy"),
    ("penalty", "general"),
    ("spot_check_fail", "serious"),
    ("spot_check_fail", "general"),
    ("spot_check_pass", None),
    ("award_municipal", None),
    ("famous_brand", None),
    ("serious_dishonesty", None),
    ("interview", None),
    ("credit_report", None),
]


@st.composite
def a_history(draw):
    """A few firms' effective events over 2020–2026, the days the city is assessed on, and whether a
    reviewer turns down the open proposals between two assessments."""
    days = st.dates(min_value=date(2020, 1, 1), max_value=TODAY)
    files = draw(
        st.lists(
            st.lists(st.tuples(st.sampled_from(TYPES), days, st.none() | days), max_size=8), min_size=2, max_size=3
        )
    )
    runs = sorted(set(draw(st.lists(st.dates(min_value=date(2024, 1, 1), max_value=TODAY), min_size=1, max_size=3))))
    refuse_between = draw(st.booleans())
    return files, runs, refuse_between


def add(session: Session, firm_id: int, kind: tuple[str, str | None], day: date, valid: date | None, n: int) -> None:
    event_type, severity = kind
    session.add(
        CreditEvent(
            firm_id=firm_id,
            event_type=event_type,
            severity=severity,
            occurred_on=day,
            valid_until=(max(valid, day + timedelta(days=1)) if valid else None)
            if event_type == "famous_brand"
            else None,
            document_no=f"文书-{firm_id}-{n}",
            authority="市局",
            status="effective",
        )
    )


def state(session: Session) -> tuple[list, list]:
    session.flush()
    listings = [
        (
            entry.firm_id,
            entry.kind,
            entry.status,
            entry.reason,
            entry.basis,
            entry.rule_set_version,
            entry.covers_event_id,
            entry.proposed_on,
            entry.served_on,
            entry.deadline,
            entry.listed_from,
            entry.listed_until,
            entry.ended_on,
            entry.end_code,
        )
        for entry in session.exec(select(Listing).order_by(Listing.firm_id, Listing.kind, Listing.id))
    ]
    grades = [
        (a.firm_id, a.as_of, a.score, a.grade, a.triggers, bool(a.red_eligible), a.red_basis)
        for a in session.exec(select(FirmAssessment).order_by(FirmAssessment.firm_id))
    ]
    return listings, grades


def run(session: Session, firm_ids: list[int], runs: list[date], refuse_between: bool, *, per_firm: bool) -> tuple:
    for index, day in enumerate(runs):
        if per_firm:
            reassess_firms(session, firm_ids, as_of=day)
        else:
            assess_all(session, as_of=day)
        if refuse_between and index + 1 < len(runs):
            for firm_id in firm_ids:
                entry = open_listing(session, firm_id, "black")
                if entry is not None and entry.status == "proposed":
                    end_listing(session, entry, day, EndCode.not_listed, "不予列入")
    return state(session)


@pytest.fixture
def firms(session) -> list[int]:
    ensure_default_ruleset(session)
    ids = [make_firm(session).id for _ in range(3)]
    session.flush()
    return ids


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(history=a_history())
def test_per_firm_and_set_based_paths_make_the_same_listings(session, firms, history):
    files, runs, refuse_between = history
    outer = session.begin_nested()
    try:
        n = 0
        for firm_id, file in zip(firms, files, strict=False):
            for kind, day, valid in file:
                n += 1
                add(session, firm_id, kind, day, valid, n)
        session.flush()
        inner = session.begin_nested()
        per_firm = run(session, firms, runs, refuse_between, per_firm=True)
        inner.rollback()
        set_based = run(session, firms, runs, refuse_between, per_firm=False)
        assert set_based[1] == per_firm[1]  # the stored assessments
        assert set_based[0] == per_firm[0]  # the listings, field by field
    finally:
        outer.rollback()


def test_the_paths_agree_on_a_red_renewal_and_a_proposal(session, firms):
    """A fixed history the random one may miss: red listed, then renewed; a heavy penalty proposed once."""
    red, black, _ = firms
    for n, day in enumerate(("2026-01-05", "2026-03-05", "2026-05-05")):
        add(session, red, ("spot_check_pass", None), date.fromisoformat(day), None, n)
    add(session, red, ("award_municipal", None), date(2025, 12, 1), None, 10)
    add(session, black, ("penalty", "heavy"), date(2026, 2, 1), None, 11)
    session.flush()
    runs = [date(2026, 6, 1), date(2026, 9, 1)]
    nested = session.begin_nested()
    per_firm = run(session, firms, runs, False, per_firm=True)
    nested.rollback()
    set_based = run(session, firms, runs, False, per_firm=False)
    assert set_based == per_firm
    listings = per_firm[0]
    red_entry = next(row for row in listings if row[0] == red and row[1] == "red")
    assert red_entry[4]["criteria"] == ["honour", "passes"]  # codes, not prose
    assert (red_entry[10], red_entry[11]) == (date(2026, 6, 1), date(2027, 9, 1))  # renewed on 09-01
    black_entry = next(row for row in listings if row[0] == black)
    assert (black_entry[2], black_entry[7], black_entry[9]) == ("proposed", date(2026, 6, 1), None)


# --- the rules themselves -----------------------------------------------------------------------------------


def test_proposal_rule():
    assert proposal_due(triggers=("heavy_penalty",), open_black=False, newest_trigger_event=5, covered=0)
    assert not proposal_due(triggers=(), open_black=False, newest_trigger_event=5, covered=0)
    assert not proposal_due(triggers=("heavy_penalty",), open_black=True, newest_trigger_event=5, covered=0)
    assert not proposal_due(triggers=("heavy_penalty",), open_black=False, newest_trigger_event=5, covered=5)
    assert not proposal_due(triggers=("heavy_penalty",), open_black=False, newest_trigger_event=None, covered=0)


def test_red_step_lists_renews_and_treats_a_missing_end_as_renewable():
    day = date(2026, 6, 1)
    assert red_step(eligible=False, open_red=False, open_until=None, as_of=day, rules=RULES) is None
    assert red_step(eligible=True, open_red=False, open_until=None, as_of=day, rules=RULES).action == "list"
    renew = red_step(eligible=True, open_red=True, open_until=None, as_of=day, rules=RULES)
    assert (renew.action, renew.listed_until) == ("renew", date(2027, 6, 1))
    assert red_step(eligible=True, open_red=True, open_until=date(2027, 6, 1), as_of=day, rules=RULES) is None


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"kind": "red", "status": "listed"}, "not_proposed"),
        ({"status": "listed"}, "not_proposed"),
        ({"served_on": None}, "not_served"),
        ({"on": date(2026, 3, 1)}, "before_proposal"),
        ({"served_on": date(2026, 3, 20), "on": date(2026, 3, 19)}, "before_service"),
        ({"deadline": None}, "deadline_unknown"),
        ({"on": date(2026, 3, 16)}, "period_running"),
        ({"on": date(2026, 3, 17)}, None),
        ({"on": date(2026, 3, 3), "waived": True}, None),
        ({"on": date(2026, 3, 3), "waived": True, "deadline": None}, None),
    ],
)
def test_decision_refusals_have_codes(fields, code):
    base = {
        "kind": "black",
        "status": "proposed",
        "proposed_on": date(2026, 3, 2),
        "served_on": date(2026, 3, 2),
        "deadline": date(2026, 3, 16),
        "waived": False,
        "on": date(2026, 4, 1),
    }
    refusal = decision_refusal(**{**base, **fields})
    assert (refusal.code if refusal else None) == code


@pytest.mark.parametrize(
    ("kind", "code", "hidden"),
    [
        ("black", None, False),
        ("black", "expired", False),
        ("black", "repair", True),
        ("black", "objection_upheld", True),
        ("black", "basis_revoked", True),
        ("black", "not_listed", False),
        ("red", "negative_event", False),
        ("red", "basis_revoked", True),
        ("red", "repair", False),
    ],
)
def test_what_the_public_may_see_is_decided_by_the_end_code(kind, code, hidden):
    assert hidden_from_public(kind, code) is hidden


def test_every_end_code_has_a_label():
    assert set(END_LABELS) == set(EndCode)


def test_revoking_the_award_behind_a_red_listing_ends_it_as_never_in_force(session, firms):
    from credit.services.events import revoke_event
    from tests.factories import make_user

    red = firms[0]
    reviewer = make_user(session, username="rev", role="reviewer")
    add(session, red, ("award_provincial", None), date(2026, 3, 1), None, 1)
    session.flush()
    reassess_firms(session, [red], as_of=date(2026, 6, 1))
    entry = open_listing(session, red, "red")
    assert entry is not None
    award = session.exec(select(CreditEvent).where(CreditEvent.firm_id == red)).one()
    revoke_event(session, award, reviewer, "奖项被撤销")
    assert (entry.status, entry.end_code) == ("removed", "basis_revoked")


# --- migration 0006 backfilled the end codes --------------------------------------------------------------------


def test_migration_0006_backfills_end_codes_from_the_texts(tmp_path, caplog):
    import logging

    from alembic import command

    from credit.db import make_engine
    from credit.migrate import alembic_config
    from tests.test_migrations import empty_database

    engine = make_engine(empty_database(tmp_path))
    try:
        command.upgrade(alembic_config(engine), "0005")
        texts = {
            "期满移出": "expired",
            "据以列入的记录已撤销(事件 #7)": "basis_revoked",
            "负面记录生效(事件 #3),移出红榜": "negative_event",
            "信用修复(26-AAAA):已整改": "repair",
            "异议成立(26-BBBB):处罚撤销": "objection_upheld",
            "审核决定不予列入:复议撤销": "not_listed",
            "人工结束": "legacy",
        }
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO firm (id, uscc, name, legal_representative, address, region, industry, scale, created_at, updated_at) VALUES (1, '914403001922038216', 'x', '', '', '南城街道', 'C', '规上', '2026-01-01', '2026-01-01')"
                )
            )
            for n, reason in enumerate([*texts, None]):
                status = "removed" if reason else "proposed"
                conn.execute(
                    text(
                        "INSERT INTO listing (id, firm_id, kind, status, reason, basis, rule_set_version, proposed_on,"
                        " deadline, waived, decision_note, end_reason, created_at)"
                        " VALUES (:id, 1, 'black', :status, 'r', '{}', 1, '2026-01-05', '2026-01-19', :f, '', :e,"
                        " '2026-01-05')"
                    ),
                    {"id": n + 1, "status": status, "f": False, "e": reason or ""},
                )
        with caplog.at_level(logging.INFO, logger="alembic.runtime.migration"):
            command.upgrade(alembic_config(engine), "0006")
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT end_reason, end_code FROM listing WHERE status = 'removed'")).all())
            proposal = conn.execute(
                text("SELECT end_code, deadline, served_on FROM listing WHERE status = 'proposed'")
            ).one()
        assert rows == texts
        assert tuple(proposal) == (None, None, None)  # an undecided proposal waits for service now
        assert "0006 end codes backfilled: expired 1, basis_revoked 1" in caplog.text and "legacy 1" in caplog.text
    finally:
        engine.dispose()
