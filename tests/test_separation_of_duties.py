"""Separation of duties (issue 11, internal control): the reviewer who approved a case's triggering record
may not decide its black listing nor register the firm's waiver; whoever decided a listing may not decide
an objection or credit-repair application against it; the reviewer who approved a record may not decide an
objection against it. On by default, off through the rule set; enforced in the services and shown on the
pages as the reason a button is missing. A decision by someone else stays possible."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from credit.models import Firm, Listing, Petition
from credit.rules.duties import DutyCode, listing_decision_conflict, petition_decision_conflict
from credit.rules.ruleset import DEFAULT_PATH, RuleSetError, load_document, parse_ruleset
from credit.services.due_process import (
    DueProcessError,
    approve_due,
    decide_black,
    decide_petition,
    file_petition,
    waive_objection,
)
from credit.services.rulesets import activate_version, save_version
from tests.conftest import AuthActions, post_form
from tests.test_due_process import (
    STATEMENT,
    approver,
    decider,
    listed_on,
    objection,
    served_proposal,
    staff,
)

OFF_TEXT = DEFAULT_PATH.read_text(encoding="utf-8").replace(
    "separation_of_duties = true", "separation_of_duties = false"
)


def switch_off(s: Session) -> None:
    """A new rule-set version with separation of duties off, put in force."""
    staff(s)
    row = save_version(s, OFF_TEXT, note="职责分离关闭", created_by="admin")
    activate_version(s, row.version)


def repair(s: Session, listing: Listing) -> Petition:
    return file_petition(
        s,
        kind="repair",
        firm=s.get(Firm, listing.firm_id),
        listing=listing,
        applicant_name="张经理",
        applicant_contact="0769-22000000",
        statement=STATEMENT,
    )


# --- the rule itself ----------------------------------------------------------------------------------------


def test_the_rule_as_a_table():
    assert listing_decision_conflict(enabled=True, person_id=1, trigger_approver_ids=[1, 2]).code == "approved_trigger"
    waiver = listing_decision_conflict(enabled=True, person_id=1, trigger_approver_ids=[1], waiver=True)
    assert waiver.code == DutyCode.approved_trigger_waiver
    assert listing_decision_conflict(enabled=True, person_id=3, trigger_approver_ids=[1, 2, None]) is None
    assert listing_decision_conflict(enabled=False, person_id=1, trigger_approver_ids=[1]) is None
    petition = petition_decision_conflict
    assert petition(enabled=True, person_id=1, listing_decided_by_id=1, record_approved_by_id=None).code == (
        "decided_listing"
    )
    assert petition(enabled=True, person_id=1, listing_decided_by_id=None, record_approved_by_id=1).code == (
        "approved_record"
    )
    assert petition(enabled=True, person_id=2, listing_decided_by_id=1, record_approved_by_id=1) is None
    assert petition(enabled=False, person_id=1, listing_decided_by_id=1, record_approved_by_id=1) is None


def test_the_setting_is_on_by_default_and_checked():
    document = load_document(DEFAULT_PATH.read_text(encoding="utf-8"))
    assert parse_ruleset(document).control.separation_of_duties is True
    older = {k: v for k, v in document.items() if k != "internal_control"}
    assert parse_ruleset(older).control.separation_of_duties is True  # versions saved before: on
    assert parse_ruleset({**document, "internal_control": {"separation_of_duties": False}}).control == (
        parse_ruleset(load_document(OFF_TEXT)).control
    )
    with pytest.raises(RuleSetError, match="true 或 false"):
        parse_ruleset({**document, "internal_control": {"separation_of_duties": "no"}})
    with pytest.raises(RuleSetError, match="未知的设置"):
        parse_ruleset({**document, "internal_control": {"four_eyes": True}})


# --- in the services ----------------------------------------------------------------------------------------


def test_the_approver_of_the_trigger_may_not_decide_the_listing_another_reviewer_may(session):
    listing = served_proposal(session)
    day = listing.deadline + timedelta(days=1)
    with pytest.raises(DueProcessError, match="批准了该案的触发记录") as refused:
        decide_black(session, listing, approver(session), approve=True, note="", on=day)
    assert refused.value.code == "approved_trigger"
    assert (listing.status, listing.decided_by_id) == ("proposed", None)
    _, reviewer = staff(session)
    decide_black(session, listing, reviewer, approve=True, note="", on=day)
    assert (listing.status, listing.decided_by_id) == ("listed", reviewer.id)


def test_off_the_approver_of_the_trigger_decides(session):
    listing = served_proposal(session)
    switch_off(session)
    decide_black(session, listing, approver(session), approve=True, note="", on=listing.deadline + timedelta(days=1))
    assert listing.status == "listed"


def test_the_approver_of_the_trigger_may_not_register_the_waiver(session):
    listing = served_proposal(session)
    with pytest.raises(DueProcessError, match="不能登记企业放弃陈述申辩"):
        waive_objection(session, listing, recorded_by=approver(session), note="企业书面声明放弃")
    assert not listing.waived
    recorder, _ = staff(session)
    waive_objection(session, listing, recorded_by=recorder, note="企业书面声明放弃")
    assert listing.waived


def test_off_the_approver_of_the_trigger_registers_the_waiver(session):
    listing = served_proposal(session)
    switch_off(session)
    waive_objection(session, listing, recorded_by=approver(session), note="企业书面声明放弃")
    assert listing.waived


def test_the_decider_of_a_listing_may_not_decide_the_repair_or_objection_against_it(session):
    listing = listed_on(session)
    day = session.get(Listing, listing.id).listed_from + timedelta(days=400)
    application = repair(session, listing)
    with pytest.raises(DueProcessError, match="作出了该榜单条目的列入决定"):
        decide_petition(session, application, decider(session), grant=False, reason="条件未满足", on=day)
    assert application.status == "open"
    _, reviewer = staff(session)
    decide_petition(session, application, reviewer, grant=False, reason="条件未满足", on=day)
    assert (application.status, application.decided_by_id) == ("refused", reviewer.id)

    against = objection(session, listing=listing)
    with pytest.raises(DueProcessError, match="作出了该榜单条目的列入决定"):
        decide_petition(session, against, decider(session), grant=False, reason="不成立", on=day)
    decide_petition(session, against, reviewer, grant=False, reason="不成立", on=day)
    assert against.status == "refused"


def test_off_the_decider_of_a_listing_decides_the_objection(session):
    listing = listed_on(session)
    switch_off(session)
    against = objection(session, listing=listing)
    decide_petition(session, against, decider(session), grant=False, reason="不成立", on=listing.listed_from)
    assert against.status == "refused"


def test_the_approver_of_a_record_may_not_decide_the_objection_against_it(session):
    listing = served_proposal(session)
    record = session.get(Firm, listing.firm_id)
    from credit.services.due_process import trigger_facts

    event = trigger_facts(session, listing)[0].events[0]
    against = objection(session, event=event)
    assert record is not None
    with pytest.raises(DueProcessError, match="批准了该信用记录"):
        decide_petition(session, against, approver(session), grant=False, reason="不成立", on=listing.proposed_on)
    _, reviewer = staff(session)
    decide_petition(session, against, reviewer, grant=False, reason="不成立", on=listing.proposed_on)
    assert against.status == "refused"


def test_approve_due_leaves_the_approvers_cases_to_another_reviewer(session):
    listing = served_proposal(session)
    day = listing.deadline + timedelta(days=1)
    barred: list = []
    assert approve_due(session, approver(session), on=day, barred=barred) == []
    assert barred == [listing] and listing.status == "proposed"
    _, reviewer = staff(session)
    assert approve_due(session, reviewer, on=day) == [listing]
    assert listing.status == "listed"


def test_approve_due_on_the_command_line_names_what_it_left(tx, runner):
    with tx() as s:
        listing_id = served_proposal(s).id
    result = runner.invoke(args=["credit", "listings", "approve-due", "--by", "appr"])
    assert result.exit_code == 0, result.output
    assert "0 家企业列入黑榜" in result.output
    assert f"按职责分离须由其他审核员决定：#{listing_id}" in result.output
    result = runner.invoke(args=["credit", "listings", "approve-due", "--by", "rev"])
    assert "1 家企业列入黑榜" in result.output


# --- on the pages --------------------------------------------------------------------------------------------


@pytest.fixture
def case(tx):
    """A served proposal whose period is over: `appr` approved its trigger; `rec` and `rev` did nothing."""
    with tx() as s:
        listing = served_proposal(s)
        return listing.id


def test_the_page_hides_the_decision_from_the_approver_and_says_why(app, client, auth, case, engine):
    auth.login("appr")
    path = f"/admin/listings/{case}"
    page = client.get(path).get_data(as_text=True)
    assert "您批准了该案的触发记录，按职责分离不能作出列入决定" in page
    assert f'action="{path}/decide"' not in page
    assert f'action="{path}/waive"' not in page and "不能登记企业放弃陈述申辩" in page
    response = post_form(client, f"{path}/decide", {"decide-decision": "approve"}, follow_redirects=True)
    assert "按职责分离不能作出列入决定" in response.get_data(as_text=True)
    with Session(engine) as s:
        assert s.get(Listing, case).status == "proposed"

    other = app.test_client()
    AuthActions(other, engine).login("rev")
    page = other.get(path).get_data(as_text=True)
    assert f'action="{path}/decide"' in page and "按职责分离" not in page
    assert post_form(other, f"{path}/decide", {"decide-decision": "approve"}).status_code == 302
    with Session(engine) as s:
        assert s.get(Listing, case).status == "listed"


def test_the_page_offers_the_decision_to_the_approver_when_off(client, auth, case, engine, tx):
    with tx() as s:
        switch_off(s)
    auth.login("appr")
    path = f"/admin/listings/{case}"
    page = client.get(path).get_data(as_text=True)
    assert f'action="{path}/decide"' in page and "按职责分离" not in page
    assert post_form(client, f"{path}/decide", {"decide-decision": "approve"}).status_code == 302
    with Session(engine) as s:
        assert s.get(Listing, case).status == "listed"


def test_the_petition_page_hides_the_decision_from_the_decider(app, client, auth, tx, engine):
    with tx() as s:
        listing = listed_on(s)
        petition_id = objection(s, listing=listing).id
    auth.login("dec")
    path = f"/admin/petitions/{petition_id}"
    page = client.get(path).get_data(as_text=True)
    assert "您作出了该榜单条目的列入决定，按职责分离不能对针对它的申请作出决定" in page
    assert f'action="{path}/decide"' not in page
    post_form(client, f"{path}/decide", {"decide-decision": "refuse", "decide-reason": "不成立"})
    with Session(engine) as s:
        assert s.get(Petition, petition_id).status == "open"

    other = app.test_client()
    AuthActions(other, engine).login("rev")
    assert f'action="{path}/decide"' in other.get(path).get_data(as_text=True)
    post_form(other, f"{path}/decide", {"decide-decision": "refuse", "decide-reason": "不成立"})
    with Session(engine) as s:
        assert s.get(Petition, petition_id).status == "refused"
