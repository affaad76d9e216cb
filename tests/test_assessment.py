"""Assessment in use: the CLI over the whole city, the per-event update, list entries, checks and the
rule-set versions."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import Session, select

from credit.models import FirmAssessment, Listing, RuleSetVersion
from credit.rules.dates import add_months
from credit.services.events import approve_event, record_event, revoke_event
from credit.services.rulesets import ensure_default_ruleset
from credit.services.users import get_user
from tests.conftest import post_form
from tests.factories import make_firm, make_user


def event(uscc: str, event_type: str, occurred_on: str, doc: str, **extra) -> dict:
    return {
        "uscc": uscc,
        "event_type": event_type,
        "occurred_on": occurred_on,
        "document_no": doc,
        "authority": "东莞市市场监督管理局",
        **extra,
    }


@pytest.fixture
def city(tx):
    """Three firms: one triggering the black list, one red-eligible, one plain; effective events."""
    with tx() as s:
        ensure_default_ruleset(s)
        recorder = make_user(s, username="rec", role="recorder")
        reviewer = make_user(s, username="rev", role="reviewer")
        black = make_firm(s, name="东莞市黑榜测试化工有限公司")
        red = make_firm(s, name="东莞市红榜测试电子有限公司")
        plain = make_firm(s, name="东莞市普通测试五金有限公司")
        for raw in (
            event(black.uscc, "penalty", "2026-03-02", "罚-1", severity="heavy", amount="200000"),
            event(red.uscc, "award_provincial", "2025-05-10", "奖-1"),
            event(red.uscc, "spot_check_pass", "2025-06-10", "抽-1"),
            event(red.uscc, "cqo_appointed", "2025-01-10", "CQO-1", person_name="张三", certificate_no="Z-1"),
        ):
            approve_event(s, record_event(s, raw, recorder=recorder), reviewer)
        return {"black": black, "red": red, "plain": plain}


def listings(engine, firm_id: int) -> list[Listing]:
    with Session(engine) as s:
        return list(s.exec(select(Listing).where(Listing.firm_id == firm_id).order_by(Listing.id)))


def stored(engine, firm_id: int) -> FirmAssessment:
    with Session(engine) as s:
        return s.get(FirmAssessment, firm_id)


def test_approval_updates_assessment_and_lists_in_the_same_transaction(city, engine):
    black = stored(engine, city["black"].id)
    assert (black.score, black.grade, black.triggers) == (70, "D", "heavy_penalty")
    (proposal,) = listings(engine, city["black"].id)
    assert (proposal.kind, proposal.status) == ("black", "proposed")
    # the objection period runs from service of the notice: nothing to count until it is served
    assert (proposal.served_on, proposal.deadline) == (None, None)
    assert "从重行政处罚" in proposal.reason
    red = stored(engine, city["red"].id)
    assert (red.score, red.grade, red.red_eligible) == (120, "A", True)
    (red_entry,) = listings(engine, city["red"].id)
    assert (red_entry.kind, red_entry.status) == ("red", "listed")
    assert red_entry.listed_until == add_months(red_entry.listed_from, 12)


def test_a_negative_event_removes_the_red_listing_the_day_it_takes_effect(city, tx, engine):
    with tx() as s:
        e = record_event(s, event(city["red"].uscc, "interview", "2026-10-01", "约-9"), recorder=get_user(s, "rec"))
        approve_event(s, e, get_user(s, "rev"))
    (entry,) = listings(engine, city["red"].id)
    assert entry.status == "removed"
    assert "负面记录生效" in entry.end_reason
    assert stored(engine, city["red"].id).grade == "B"


def test_revoking_the_triggering_event_withdraws_the_proposal(city, tx, engine):
    with tx() as s:
        from credit.models import CreditEvent

        penalty = s.exec(select(CreditEvent).where(CreditEvent.firm_id == city["black"].id)).one()
        revoke_event(s, penalty, get_user(s, "rev"), "行政复议撤销处罚决定")
    (entry,) = listings(engine, city["black"].id)
    assert entry.status == "withdrawn"
    assert "已撤销" in entry.end_reason
    assert stored(engine, city["black"].id).grade == "B"


def test_assess_cli_for_the_city_and_for_a_past_date(city, runner, engine):
    result = runner.invoke(args=["credit", "assess", "--as-of", "2026-11-22"])
    assert result.exit_code == 0, result.output
    assert "3 家企业" in result.output and "A:1" in result.output and "D:1" in result.output
    assert stored(engine, city["plain"].id).grade == "B"
    # No second proposal: the open one answers for the same penalty.
    assert len(listings(engine, city["black"].id)) == 1

    past = runner.invoke(args=["credit", "assess", "--as-of", "2026-01-01"])
    assert past.exit_code == 0, past.output
    black = stored(engine, city["black"].id)
    assert (black.as_of, black.grade, black.score) == (date(2026, 1, 1), "B", 100)  # the penalty came later
    red = stored(engine, city["red"].id)
    assert red.as_of == date(2026, 1, 1) and red.score == 120


def test_assess_cli_proposes_dated_as_of(tx, runner, engine):
    with tx() as s:
        ensure_default_ruleset(s)
        firm = make_firm(s)
        from credit.models import CreditEvent

        for n, day in enumerate(("2025-01-10", "2025-06-10", "2026-02-10")):
            s.add(
                CreditEvent(
                    firm_id=firm.id,
                    event_type="spot_check_fail",
                    severity="general",
                    occurred_on=date.fromisoformat(day),
                    document_no=f"抽-{n}",
                    authority="x",
                    status="effective",
                )
            )
    result = runner.invoke(args=["credit", "assess", "--as-of", "2026-03-02"])
    assert result.exit_code == 0, result.output
    (entry,) = listings(engine, firm.id)
    assert (entry.status, entry.proposed_on, entry.served_on, entry.deadline) == (
        "proposed",
        date(2026, 3, 2),
        None,
        None,
    )
    assert entry.basis["triggers"] == ["repeated_failures"]


@pytest.mark.parametrize("bad", ["2026-02-30", "tomorrow", "2026/01/01", "2026-11-23", "9999-12-31", "0001-01-01"])
def test_assess_refuses_a_bad_date(runner, bad):
    result = runner.invoke(args=["credit", "assess", "--as-of", bad])
    assert result.exit_code != 0
    assert "--as-of" in result.output


def test_check_json_carries_the_contract_fields(city, runner):
    result = runner.invoke(args=["credit", "check", city["red"].uscc, "--purpose", "permit", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"uscc", "name", "grade", "score", "lists", "measures", "rule_set", "as_of", "check_id"}
    assert (data["uscc"], data["grade"], data["score"], data["rule_set"]) == (city["red"].uscc, "A", 120, 1)
    assert data["lists"][0]["list"] == "red"
    assert [m["code"] for m in data["measures"]] == ["green_channel"]
    assert all(m["basis"] for m in data["measures"])


def test_check_measures_for_black_listed_and_vetoed_firms(city, tx, runner):
    with tx() as s:
        entry = s.exec(select(Listing).where(Listing.firm_id == city["black"].id)).one()
        entry.status, entry.listed_from, entry.listed_until = "listed", date(2026, 4, 1), date(2029, 4, 1)
        s.add(entry)
    data = json.loads(
        runner.invoke(args=["credit", "check", city["black"].uscc, "--purpose", "procurement", "--json"]).output
    )
    assert "restrict_procurement" in [m["code"] for m in data["measures"]]
    assert data["lists"][0]["status"] == "listed"
    award = json.loads(
        runner.invoke(args=["credit", "check", city["black"].uscc, "--purpose", "award", "--json"]).output
    )
    # the veto, and — D is never treated more leniently than C — key supervision
    assert [m["code"] for m in award["measures"]] == ["award_veto", "key_supervision"]


def test_check_unknown_and_malformed_firms(runner):
    assert runner.invoke(args=["credit", "check", "914403001922038216"]).exit_code != 0
    bad = runner.invoke(args=["credit", "check", "914403001922038217"])
    assert bad.exit_code != 0 and "校验码" in bad.output


def test_init_loads_the_default_rule_set_once(runner, engine):
    runner.invoke(args=["credit", "init"])
    runner.invoke(args=["credit", "init"])
    with Session(engine) as s:
        versions = s.exec(select(RuleSetVersion)).all()
    assert [(v.version, v.active) for v in versions] == [(1, True)]


def test_a_new_rule_set_version_changes_results_and_names_itself(city, client, auth, engine):
    auth.login_as("admin")
    form = client.get("/admin/rules/new").get_data(as_text=True)
    assert "base_score = 100" in form
    from credit.rules.ruleset import DEFAULT_PATH

    text = DEFAULT_PATH.read_text(encoding="utf-8").replace(
        "[events.award_provincial]\npoints = 15", "[events.award_provincial]\npoints = 25"
    )
    bad = post_form(
        client, "/admin/rules/new", {"text": text.replace("base_score = 100", "base_score = 'x'"), "note": "坏"}
    )
    assert bad.status_code == 422 and "base_score" in bad.get_data(as_text=True)
    assert post_form(client, "/admin/rules/new", {"text": text, "note": "省质量奖提高到 25 分"}).status_code == 302
    diff = client.get("/admin/rules/diff?a=1&b=2").get_data(as_text=True)
    assert "+" in diff and "25" in diff
    assert stored(engine, city["red"].id).rule_set_version == 1
    assert post_form(client, "/admin/rules/2/activate", {}).status_code == 200  # the effect first
    assert post_form(client, "/admin/rules/2/activate", {"confirmed": "yes"}).status_code == 302
    red = stored(engine, city["red"].id)
    assert (red.rule_set_version, red.score) == (2, 130)
    page = client.get(f"/admin/firms/{city['red'].uscc}").get_data(as_text=True)
    assert "规则集 v2" in page and "130" in page


def test_firm_page_explains_the_grade(city, client, auth):
    auth.login_as("reviewer")
    page = client.get(f"/admin/firms/{city['black'].uscc}").get_data(as_text=True)
    assert "70" in page and "罚-1" in page and "-30" in page
    assert "黑名单情形" in page and "拟列入" in page


def test_a_cli_check_is_logged_with_a_receipt(city, runner, engine):
    from credit.models import CreditCheck

    data = json.loads(runner.invoke(args=["credit", "check", city["red"].uscc, "--json"]).output)
    with Session(engine) as s:
        (logged,) = s.exec(select(CreditCheck)).all()
    assert (logged.receipt, logged.channel, logged.uscc) == (data["check_id"], "cli", city["red"].uscc)
