"""Due process of the black list (SPEC §2): the decision after the notice period or at once on a waiver,
objections that hold or end a proposal, credit repair and its conditions, petitions and their limits, and
`flask credit listings approve-due`."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlmodel import Session

from credit import clock
from credit.models import CreditEvent, Firm, Listing, ListKind, Petition, User, utcnow
from credit.rules.dates import add_months
from credit.services.assessment import reassess_firms
from credit.services.due_process import (
    REFERENCE_ALPHABET,
    DueProcessError,
    approve_due,
    decide_black,
    decide_petition,
    file_petition,
    get_petition,
    open_petitions,
    petitions_for_firm,
    serve_notice,
    trigger_facts,
    under_objection,
    waive_objection,
)
from credit.services.events import approve_event, record_event, revoke_event
from credit.services.listings import open_listing, propose_black
from credit.services.rulesets import active_ruleset, ensure_default_ruleset
from credit.services.users import get_user
from tests.factories import make_firm, make_user

AUTHORITY = "东莞市市场监督管理局"
STATEMENT = "处罚决定已被行政复议撤销,请核实更正。"
PAST = date(2025, 3, 10)  # a Monday: a notice served that day has its deadline on 2025-03-24
NOTICE_DAY = date(2026, 10, 19)  # a Monday: served that day, the objection period ends on 2026-11-02


def raw_event(uscc: str, event_type: str, occurred_on: str, doc: str, **extra) -> dict:
    return {
        "uscc": uscc,
        "event_type": event_type,
        "occurred_on": occurred_on,
        "document_no": doc,
        "authority": AUTHORITY,
        **extra,
    }


def staff(s: Session) -> tuple:
    """The rule set and two people: a recorder and a reviewer (created once)."""
    ensure_default_ruleset(s)
    recorder = get_user(s, "rec") or make_user(s, username="rec", role="recorder", display_name="李录入")
    reviewer = get_user(s, "rev") or make_user(s, username="rev", role="reviewer", display_name="王审核")
    return recorder, reviewer


def approver(s: Session) -> User:
    """The reviewer who approves the records (separation of duties: `rev` then decides the listings)."""
    ensure_default_ruleset(s)
    return get_user(s, "appr") or make_user(s, username="appr", role="reviewer", display_name="赵批准")


def decider(s: Session) -> User:
    """The reviewer who decides listings made by the helpers (so that `rev` may decide petitions on them)."""
    ensure_default_ruleset(s)
    return get_user(s, "dec") or make_user(s, username="dec", role="reviewer", display_name="钱决定")


def heavy_penalty(s: Session, firm, doc: str = "东市监罚〔2026〕8号", occurred_on: str = "2026-03-02") -> CreditEvent:
    """An effective heavy penalty, recorded and approved (the approval proposes a black listing today)."""
    recorder, _ = staff(s)
    event = record_event(
        s,
        raw_event(firm.uscc, "penalty", occurred_on, doc, severity="heavy", amount="200000", product="电热水壶"),
        recorder=recorder,
    )
    return approve_event(s, event, approver(s))


def proposal_today(s: Session, **firm_fields) -> Listing:
    """A firm with a heavy penalty and the proposal its approval made (dated today), its notice not served."""
    firm = make_firm(s, **firm_fields)
    heavy_penalty(s, firm)
    listing = open_listing(s, firm.id, ListKind.black)
    assert listing is not None and listing.status == "proposed"
    return listing


def serve(s: Session, listing: Listing, on: date, method: str = "direct") -> Listing:
    recorder, _ = staff(s)
    return serve_notice(s, listing, by=recorder, on=on, method=method, note="企业签收")


def served_proposal(s: Session, **firm_fields) -> Listing:
    """A proposal its penalty's approval made on NOTICE_DAY, its notice served the same day: the objection
    period is over by today (2026-11-22)."""
    with clock.today_is(NOTICE_DAY):
        listing = proposal_today(s, **firm_fields)
        serve(s, listing, NOTICE_DAY)
    assert listing.deadline == date(2026, 11, 2)
    return listing


def effective_event(s: Session, firm, event_type: str, occurred_on: date, doc: str, severity: str | None = None):
    """An effective record as the file holds it, without the per-event assessment (for dated scenarios)."""
    recorder, _ = staff(s)
    reviewer = approver(s)
    event = CreditEvent(
        firm_id=firm.id,
        event_type=event_type,
        occurred_on=occurred_on,
        document_no=doc,
        authority=AUTHORITY,
        severity=severity,
        status="effective",
        recorded_by_id=recorder.id,
        reviewed_by_id=reviewer.id,
        reviewed_at=utcnow(),
    )
    s.add(event)
    s.flush()
    return event


def proposal_on(s: Session, day: date = PAST, *, served: bool = True, **firm_fields) -> Listing:
    """A black-list proposal dated `day` (as `assess --as-of day` makes it) for a firm with a heavy
    penalty a week earlier, its notice served the same day (unless `served` is false)."""
    firm = make_firm(s, **firm_fields)
    effective_event(s, firm, "penalty", day - timedelta(days=7), f"罚-{firm.id}", "heavy")
    listing = propose_black(s, firm.id, ("heavy_penalty",), day, active_ruleset(s))
    assert listing is not None
    return serve(s, listing, day) if served else listing


def listed_on(s: Session, day: date = PAST) -> Listing:
    """A black entry listed the day after its deadline."""
    listing = proposal_on(s, day)
    return decide_black(s, listing, decider(s), approve=True, note="", on=listing.deadline + timedelta(days=1))


def objection(s: Session, listing: Listing | None = None, event: CreditEvent | None = None, **kw) -> Petition:
    target = listing or event
    firm = s.get(Firm, target.firm_id)
    return file_petition(
        s,
        kind="objection",
        firm=firm,
        listing=listing,
        event=event,
        applicant_name="张经理",
        applicant_contact="0769-22000000",
        statement=STATEMENT,
        **kw,
    )


def repair(s: Session, listing: Listing) -> Petition:
    return file_petition(
        s,
        kind="repair",
        firm=s.get(Firm, listing.firm_id),
        listing=listing,
        applicant_name="张经理",
        applicant_contact="zhang@example.cn",
        statement="罚款已缴清,问题产品已全部召回并完成整改。",
    )


# --- deciding a proposal --------------------------------------------------------------------------------------


def test_a_decision_waits_for_the_deadline_then_lists_for_36_months(session):
    listing = served_proposal(session)
    _, reviewer = staff(session)
    assert (listing.proposed_on, listing.served_on, listing.deadline) == (NOTICE_DAY, NOTICE_DAY, date(2026, 11, 2))

    with pytest.raises(DueProcessError, match="届满后方可决定"):
        decide_black(session, listing, reviewer, approve=True, note="", on=listing.deadline)
    assert listing.status == "proposed"

    day = listing.deadline + timedelta(days=1)
    decide_black(session, listing, reviewer, approve=True, note="", on=day)
    assert (listing.status, listing.listed_from, listing.listed_until) == ("listed", day, add_months(day, 36))
    assert (listing.decided_on, listing.decided_by_id) == (day, reviewer.id)
    assert "告知期满未提出异议" in listing.decision_note
    with pytest.raises(DueProcessError, match=r"已由王审核于 .* 处理"):
        decide_black(session, listing, reviewer, approve=True, note="", on=day)


def test_not_listing_needs_a_reason_and_withdraws_the_proposal(session):
    listing = served_proposal(session)
    _, reviewer = staff(session)
    day = listing.deadline + timedelta(days=3)
    with pytest.raises(DueProcessError, match="须说明理由"):
        decide_black(session, listing, reviewer, approve=False, note="  ", on=day)
    decide_black(session, listing, reviewer, approve=False, note="处罚决定已被复议撤销", on=day)
    assert (listing.status, listing.ended_on, listing.decided_by_id) == ("withdrawn", day, reviewer.id)
    assert "处罚决定已被复议撤销" in listing.end_reason


def test_a_waiver_allows_a_decision_at_once(session):
    listing = served_proposal(session)
    recorder, reviewer = staff(session)
    with pytest.raises(DueProcessError, match="放弃的方式"):
        waive_objection(session, listing, recorded_by=recorder, note="")
    waive_objection(session, listing, recorded_by=recorder, note="企业 10 月 19 日书面声明放弃陈述申辩")
    assert listing.waived
    with pytest.raises(DueProcessError, match="已登记放弃"):
        waive_objection(session, listing, recorded_by=reviewer, note="再次")
    decide_black(session, listing, reviewer, approve=True, note="", on=listing.proposed_on)
    assert (listing.status, listing.listed_from) == ("listed", listing.proposed_on)
    assert "放弃" in listing.decision_note


def test_only_a_reviewer_decides_and_a_checker_cannot_record_a_waiver(session):
    listing = served_proposal(session)
    recorder, _ = staff(session)
    checker = make_user(session, username="chk", role="checker")
    with pytest.raises(DueProcessError, match="不是在职的审核员"):
        decide_black(session, listing, recorder, approve=True, note="", on=listing.deadline + timedelta(days=1))
    with pytest.raises(DueProcessError, match="审核员"):
        approve_due(session, recorder, on=listing.deadline + timedelta(days=1))
    with pytest.raises(DueProcessError, match="无权"):
        waive_objection(session, listing, recorded_by=checker, note="声明")
    assert listing.status == "proposed" and not listing.waived


def test_an_open_objection_holds_the_decision_until_it_is_decided(session):
    listing = served_proposal(session)
    _, reviewer = staff(session)
    day = listing.deadline + timedelta(days=1)
    petition = objection(session, listing=listing)
    assert under_objection(session, listing.firm_id) == (set(), {listing.id})
    with pytest.raises(DueProcessError, match=re.escape(f"有未决异议({petition.reference})")):
        decide_black(session, listing, reviewer, approve=True, note="", on=day)
    assert approve_due(session, reviewer, on=day) == []

    outcome = decide_petition(session, petition, reviewer, grant=False, reason="处罚决定合法有效", on=day)
    assert (petition.status, petition.decided_by_id, petition.decision_reason) == (
        "refused",
        reviewer.id,
        "处罚决定合法有效",
    )
    assert "驳回" in outcome.message
    assert listing.status == "proposed"  # dismissed: the proposal stands
    assert under_objection(session, listing.firm_id) == (set(), set())
    assert approve_due(session, reviewer, on=day) == [listing]
    assert listing.status == "listed"


def test_an_objection_to_the_triggering_record_also_holds_the_decision(session):
    listing = served_proposal(session)
    _, reviewer = staff(session)
    (facts,) = trigger_facts(session, listing)
    (event,) = facts.events
    assert (facts.trigger.code, event.document_no) == ("heavy_penalty", "东市监罚〔2026〕8号")
    objection(session, event=event)
    assert under_objection(session, listing.firm_id).events == {event.id}
    with pytest.raises(DueProcessError, match="有未决异议"):
        decide_black(session, listing, reviewer, approve=True, note="", on=listing.deadline + timedelta(days=1))


def test_an_upheld_objection_to_the_triggering_record_holds_until_the_record_is_revoked(session):
    listing = served_proposal(session)
    _, reviewer = staff(session)
    (facts,) = trigger_facts(session, listing)
    (event,) = facts.events
    petition = objection(session, event=event)
    day = listing.deadline + timedelta(days=1)
    decide_petition(session, petition, reviewer, grant=True, reason="处罚决定已被复议撤销", on=day)
    assert under_objection(session, listing.firm_id) == (set(), set())  # no longer flagged: decided
    with pytest.raises(DueProcessError, match="记录尚未更正或撤销"):
        decide_black(session, listing, reviewer, approve=True, note="", on=day)
    assert approve_due(session, reviewer, on=day) == []
    # the record is revoked through the event flow: the proposal resting on it ends at once
    revoke_event(session, event, reviewer, f"异议成立({petition.reference})")
    assert listing.status == "withdrawn"


def test_an_upheld_objection_ends_the_proposal_for_good(session):
    listing = proposal_today(session)
    _, reviewer = staff(session)
    petition = objection(session, listing=listing)
    with pytest.raises(DueProcessError, match="须说明决定理由"):
        decide_petition(session, petition, reviewer, grant=True, reason="", on=listing.proposed_on)
    outcome = decide_petition(
        session, petition, reviewer, grant=True, reason="处罚已被复议撤销", on=listing.proposed_on
    )
    assert petition.status == "granted"
    assert (listing.status, listing.ended_on, listing.decided_by_id) == ("withdrawn", listing.proposed_on, reviewer.id)
    assert petition.reference in listing.end_reason
    assert "不予列入" in outcome.message
    # the next assessment does not propose the firm again for the same facts
    reassess_firms(session, [listing.firm_id])
    assert open_listing(session, listing.firm_id, ListKind.black) is None
    with pytest.raises(DueProcessError, match="已由王审核处理"):
        decide_petition(session, petition, reviewer, grant=False, reason="x", on=listing.proposed_on)


def test_an_upheld_objection_removes_a_listed_entry(session):
    listing = listed_on(session)
    _, reviewer = staff(session)
    petition = objection(session, listing=listing)
    day = date(2025, 6, 1)
    decide_petition(session, petition, reviewer, grant=True, reason="据以列入的处罚决定有误", on=day)
    assert (listing.status, listing.ended_on) == ("removed", day)
    assert listing.end_code == "objection_upheld" and petition.reference in listing.end_reason


def test_an_upheld_objection_about_a_record_asks_for_its_correction(session):
    firm = make_firm(session)
    event = effective_event(session, firm, "interview", date(2026, 5, 6), "约谈-3")
    _, reviewer = staff(session)
    petition = objection(session, event=event)
    outcome = decide_petition(session, petition, reviewer, grant=True, reason="约谈对象有误", on=date(2026, 11, 22))
    assert petition.status == "granted"
    assert "更正或撤销" in outcome.message and "约谈-3" in outcome.message
    assert event.status == "effective"  # the record itself changes only through the event flow


# --- filing petitions ---------------------------------------------------------------------------------------


def test_a_petition_gets_a_readable_unique_reference(session):
    listing = proposal_today(session)
    petition = objection(session, listing=listing)
    assert re.fullmatch(rf"\d\d-[{REFERENCE_ALPHABET}]{{8}}", petition.reference)
    assert get_petition(session, petition.reference.lower()) is petition
    assert (petition.status, petition.filed_via) == ("open", "public")
    assert open_petitions(session) == [petition] == petitions_for_firm(session, listing.firm_id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"applicant_name": " "}, "申请人"),
        ({"applicant_contact": ""}, "联系方式"),
        ({"statement": "太短了"}, "至少 10 个字"),
        ({"kind": "complaint"}, "异议或信用修复"),
        ({"kind": "repair"}, "已列入黑榜"),
        ({"listing": None}, "一条信用记录或一个榜单条目"),
        ({"filed_via": "recorder"}, "录入员"),
    ],
)
def test_a_bad_petition_is_refused(session, change, message):
    listing = proposal_today(session)
    fields = {
        "kind": "objection",
        "firm": session.get(Firm, listing.firm_id),
        "listing": listing,
        "applicant_name": "张经理",
        "applicant_contact": "13800000000",
        "statement": STATEMENT,
        **change,
    }
    with pytest.raises(DueProcessError, match=message):
        file_petition(session, **fields)
    assert open_petitions(session) == []


def test_an_objection_must_name_an_effective_record_or_open_entry_of_that_firm(session):
    listing = served_proposal(session)
    other = make_firm(session)
    recorder, reviewer = staff(session)
    pending = record_event(session, raw_event(other.uscc, "interview", "2026-06-01", "约-1"), recorder=recorder)
    own = session.get(Firm, listing.firm_id)
    common = {"applicant_name": "张", "applicant_contact": "1", "statement": STATEMENT}
    with pytest.raises(DueProcessError, match="不属于此企业"):
        file_petition(session, kind="objection", firm=other, listing=listing, **common)
    with pytest.raises(DueProcessError, match="已生效"):
        file_petition(session, kind="objection", firm=other, event=pending, **common)
    decide_black(session, listing, reviewer, approve=False, note="不列入", on=listing.deadline + timedelta(days=1))
    with pytest.raises(DueProcessError, match="拟列入或已列入"):
        file_petition(session, kind="objection", firm=own, listing=listing, **common)


def test_one_open_petition_of_a_kind_per_target(session):
    listing = proposal_today(session)
    first = objection(session, listing=listing)
    with pytest.raises(DueProcessError, match=first.reference):
        objection(session, listing=listing)
    _, reviewer = staff(session)
    decide_petition(session, first, reviewer, grant=False, reason="不成立", on=listing.proposed_on)
    assert objection(session, listing=listing).status == "open"


def test_public_filings_are_limited_per_client_and_day(session):
    firm = make_firm(session)
    events = [effective_event(session, firm, "interview", date(2026, 5, i + 1), f"约谈-{i}") for i in range(7)]
    for event in events[:5]:
        objection(session, event=event, client_hash="a" * 64)
    with pytest.raises(DueProcessError, match="每天最多在线提交 5 件") as refused:
        objection(session, event=events[5], client_hash="a" * 64)
    assert refused.value.limited
    assert objection(session, event=events[5], client_hash="b" * 64).status == "open"
    yesterday = clock.now() - timedelta(days=1)
    assert len(petitions_for_firm(session, firm.id)) == 6
    # yesterday's filings do not count today
    for petition in petitions_for_firm(session, firm.id):
        petition.filed_at = yesterday
    session.flush()
    assert objection(session, event=events[6], client_hash="a" * 64).status == "open"


# --- credit repair -----------------------------------------------------------------------------------------


def test_repair_is_refused_before_12_months_on_the_list(session):
    listing = listed_on(session)  # listed 2025-03-25
    _, reviewer = staff(session)
    petition = repair(session, listing)
    early = add_months(listing.listed_from, 12) - timedelta(days=1)
    with pytest.raises(DueProcessError, match="列入已满 12 个月未满足"):
        decide_petition(
            session, petition, reviewer, grant=True, reason="符合条件", penalty_performed=True, rectified=True, on=early
        )
    assert (petition.status, listing.status) == ("open", "listed")


def test_repair_needs_both_confirmations(session):
    listing = listed_on(session)
    _, reviewer = staff(session)
    petition = repair(session, listing)
    day = add_months(listing.listed_from, 12)
    with pytest.raises(DueProcessError) as refused:
        decide_petition(session, petition, reviewer, grant=True, reason="符合条件", penalty_performed=True, on=day)
    assert "失信行为已整改到位未满足" in str(refused.value)
    assert "行政处罚已履行完毕未满足" not in str(refused.value)
    assert (petition.status, listing.status) == ("open", "listed")


def test_repair_is_refused_after_a_new_heavy_penalty(session):
    listing = listed_on(session)
    _, reviewer = staff(session)
    heavy_penalty(session, session.get(Firm, listing.firm_id))
    petition = repair(session, listing)
    with pytest.raises(DueProcessError, match=r"列入后无新的从重行政处罚未满足.*东市监罚〔2026〕8号"):
        decide_petition(
            session,
            petition,
            reviewer,
            grant=True,
            reason="符合条件",
            penalty_performed=True,
            rectified=True,
            on=date(2026, 11, 22),
        )
    outcome = decide_petition(
        session, petition, reviewer, grant=False, reason="列入后又受到从重处罚", on=date(2026, 11, 22)
    )
    assert (petition.status, listing.status) == ("refused", "listed")
    assert outcome.message == "不予信用修复"


def test_repair_granted_after_12_months_removes_the_entry_early(session):
    listing = listed_on(session)
    _, reviewer = staff(session)
    petition = repair(session, listing)
    day = add_months(listing.listed_from, 12)
    outcome = decide_petition(
        session,
        petition,
        reviewer,
        grant=True,
        reason="罚款已缴清,整改已复查合格",
        penalty_performed=True,
        rectified=True,
        on=day,
    )
    assert (petition.status, petition.penalty_performed, petition.rectified) == ("granted", True, True)
    assert (listing.status, listing.ended_on) == ("removed", day)
    assert listing.end_code == "repair" and petition.reference in listing.end_reason
    assert listing.listed_until == add_months(listing.listed_from, 36)  # the term it would have had stays on file
    assert "提前移出" in outcome.message
    reassess_firms(session, [listing.firm_id])
    assert open_listing(session, listing.firm_id, ListKind.black) is None


# --- approve-due on the command line --------------------------------------------------------------------------


def listing_status(engine, listing_id: int) -> str:
    with Session(engine) as s:
        return s.get(Listing, listing_id).status


def test_cli_approve_due_lists_only_due_proposals_without_objections(runner, tx, engine):
    with tx() as s:
        due = proposal_on(s, PAST).id
        held = proposal_on(s, PAST)
        objection(s, listing=held)
        held = held.id
        fresh = proposal_today(s).id  # not served
        unserved = proposal_on(s, PAST, served=False).id  # proposed long ago, notice never served
        running = serve(s, proposal_on(s, date(2026, 11, 20), served=False), date(2026, 11, 20))
        assert running.deadline == date(2026, 12, 4)
        running = running.id
    result = runner.invoke(args=["credit", "listings", "approve-due", "--by", "rev", "--as-of", "2026-11-22"])
    assert result.exit_code == 0, result.output
    assert "1 家企业列入黑榜" in result.output
    statuses = [listing_status(engine, i) for i in (due, held, fresh, unserved, running)]
    assert statuses == ["listed", "proposed", "proposed", "proposed", "proposed"]
    with Session(engine) as s:
        entry = s.get(Listing, due)
        assert (entry.listed_from, entry.listed_until) == (date(2026, 11, 22), date(2029, 11, 22))
        assert entry.decided_by_id == get_user(s, "rev").id
    again = runner.invoke(args=["credit", "listings", "approve-due", "--by", "rev", "--as-of", "2026-11-22"])
    assert again.exit_code == 0 and "0 家企业" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "rec"], "不是 reviewer"),
        (["--by", "nobody"], "没有用户 nobody"),
        (["--by", "rev", "--as-of", "2026-13-01"], "不是有效日期"),
    ],
)
def test_cli_approve_due_refuses_bad_input_and_changes_nothing(runner, tx, engine, args, message):
    with tx() as s:
        due = proposal_on(s, PAST).id
    result = runner.invoke(args=["credit", "listings", "approve-due", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert listing_status(engine, due) == "proposed"
