"""Nothing acts in the future (SPEC §2 Time): every date a command, job, page or API takes that lies after
today in Beijing time — or before 1990 — is refused with a reason, changes nothing, and is never a 500."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from credit.services.rulesets import ensure_default_ruleset
from tests.conftest import AuthActions, post_form
from tests.factories import make_firm
from tests.test_api_events import issue_key
from tests.test_due_process import proposal_on, staff

BAD_DAYS = ["2026-11-23", "9999-12-31", "0001-01-01"]  # tomorrow (the suite runs on 2026-11-22), far future, year 1
TABLES = (
    "assessment",
    "listing",
    "publication",
    "publication_entry",
    "publication_withdrawal",
    "credit_check",
    "credit_event",
    "audit_log",
)


def row_counts(engine) -> dict[str, int]:
    with Session(engine) as s:
        return {table: s.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one() for table in TABLES}


def stored_grades(engine) -> list[tuple]:
    with Session(engine) as s:
        return list(s.execute(text("SELECT firm_id, as_of, score, grade FROM assessment ORDER BY firm_id")))


@pytest.fixture
def city(tx):
    """A black-listed firm (listed 2025-03-25), a proposal, one month published, every firm assessed."""
    from datetime import date

    from credit.services.assessment import assess_all
    from credit.services.due_process import decide_black
    from credit.services.publications import publish_period

    with tx() as s:
        ensure_default_ruleset(s)
        _, reviewer = staff(s)
        listed = proposal_on(s, date(2025, 3, 10))
        decide_black(s, listed, reviewer, approve=True, note="", on=date(2025, 3, 25))
        proposal_on(s, date(2026, 11, 2), served=False)
        make_firm(s)
        assess_all(s, as_of=date(2026, 11, 22))
        publish_period(s, "2026-10", published_by="test")
        return {"uscc": listed_uscc(s, listed)}


def listed_uscc(s, listing) -> str:
    from credit.models import Firm

    return s.get(Firm, listing.firm_id).uscc


CLI_CASES = [
    (["credit", "assess", "--as-of", "{day}"], "--as-of"),
    (["credit", "check", "{uscc}", "--as-of", "{day}"], "--as-of"),
    (["credit", "listings", "approve-due", "--by", "rev", "--as-of", "{day}"], "--as-of"),
    (["credit", "listings", "serve", "--all", "--by", "rec", "--on", "{day}"], "--on"),
    (["credit", "publish", "--period", "2026-10", "--as-of", "{day}"], "--as-of"),
    (["credit", "scheduler", "--once", "--now", "{day}"], "--now"),
]


@pytest.mark.parametrize("day", BAD_DAYS)
@pytest.mark.parametrize(("args", "option"), CLI_CASES, ids=[c[0][1] + "-" + c[1] for c in CLI_CASES])
def test_every_command_refuses_a_date_after_today_or_before_1990(runner, engine, city, args, option, day):
    before, grades = row_counts(engine), stored_grades(engine)
    result = runner.invoke(args=[a.format(day=day, uscc=city["uscc"]) for a in args])
    assert result.exit_code == 1, result.output
    assert option in result.output
    assert ("晚于今天" in result.output) or ("早于 1990-01-01" in result.output)
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert row_counts(engine) == before
    assert stored_grades(engine) == grades


def test_today_itself_is_accepted(runner, city):
    result = runner.invoke(args=["credit", "check", city["uscc"], "--as-of", "2026-11-22", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["grade"] == "D"


@pytest.mark.parametrize("day", BAD_DAYS)
def test_the_check_api_answers_422_and_logs_nothing(client, tx, engine, city, day):
    token = issue_key(tx, scopes="check")
    before = row_counts(engine)
    headers = {"Authorization": f"Bearer {token}"}
    single = client.get(f"/api/v1/credit/{city['uscc']}?purpose=procurement&as_of={day}", headers=headers)
    assert single.status_code == 422, single.get_data(as_text=True)
    assert single.get_json()["error"] and "as_of" in single.get_data(as_text=True)
    batch = client.post(
        "/api/v1/credit/batch", json={"usccs": [city["uscc"]], "purpose": "procurement", "as_of": day}, headers=headers
    )
    assert batch.status_code == 422, batch.get_data(as_text=True)
    after = row_counts(engine)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {k: v for k, v in before.items() if k != "audit_log"}


def test_the_2030_check_that_said_grade_b_is_refused_and_today_says_d(client, tx, city):
    token = issue_key(tx, scopes="check")
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        client.get(f"/api/v1/credit/{city['uscc']}?purpose=procurement&as_of=2030-01-01", headers=headers).status_code
        == 422
    )
    answer = client.get(f"/api/v1/credit/{city['uscc']}?purpose=procurement", headers=headers).get_json()
    assert answer["grade"] == "D" and "restrict_procurement" in [m["code"] for m in answer["measures"]]


@pytest.mark.parametrize("day", BAD_DAYS)
def test_the_checker_page_refuses_the_date_as_a_form_error(client, tx, engine, city, day):
    AuthActions(client, engine).login_as("checker")
    before = row_counts(engine)
    response = post_form(client, "/check", {"usccs": city["uscc"], "purpose": "permit", "as_of": day})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "晚于今天" in page or "早于 1990-01-01" in page
    assert row_counts(engine)["credit_check"] == before["credit_check"]


def test_a_scheduler_cannot_publish_the_future(runner, engine, city):
    """The issue's case: `scheduler --once --now 2031-01-01` published 24 empty lists and ended every listing."""
    before, grades = row_counts(engine), stored_grades(engine)
    result = runner.invoke(args=["credit", "scheduler", "--once", "--now", "2031-01-01"])
    assert result.exit_code == 1 and "晚于今天" in result.output
    assert row_counts(engine) == before and stored_grades(engine) == grades


def test_services_refuse_the_future_too(session, city):
    """Defence in depth: a caller that skips the entry points' checks still cannot act in the future."""
    from datetime import date

    from credit.clock import FutureDate
    from credit.models import Firm
    from credit.services.assessment import assess_all, reassess_firms
    from credit.services.checks import CheckError, check_firm
    from credit.services.due_process import DueProcessError, approve_due

    firm = session.exec(select(Firm)).first()
    with pytest.raises(FutureDate):
        assess_all(session, as_of=date(2026, 11, 23))
    with pytest.raises(FutureDate):
        reassess_firms(session, [firm.id], as_of=date(2030, 1, 1))
    with pytest.raises(CheckError, match="晚于今天"):
        check_firm(session, firm, purpose="permit", as_of=date(2030, 1, 1))
    with pytest.raises(CheckError, match="早于 1990"):
        check_firm(session, firm, purpose="permit", as_of=date(1, 1, 1))
    _, reviewer = staff(session)
    with pytest.raises(DueProcessError, match="晚于今天"):
        approve_due(session, reviewer, on=date(2026, 11, 23))


@pytest.mark.parametrize("day", BAD_DAYS)
def test_date_filters_on_staff_pages_say_so_instead_of_filtering_on_nonsense(client, engine, city, day):
    AuthActions(client, engine).login_as("admin")
    file_page = client.get(f"/admin/firms/{city['uscc']}?since={day}")
    assert file_page.status_code == 200
    assert "晚于今天" in file_page.get_data(as_text=True) or "早于 1990" in file_page.get_data(as_text=True)
    log = client.get(f"/admin/checks?to={day}")
    assert log.status_code == 200 and (
        "晚于今天" in log.get_data(as_text=True) or "早于 1990" in log.get_data(as_text=True)
    )
    export = client.get(f"/admin/checks.csv?from={day}")
    assert export.status_code == 422 and export.mimetype == "text/plain"
