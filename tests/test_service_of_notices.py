"""Service of notices (送达) and the objection period on the official working-day calendar: deadlines run
from service in official working days, a year without a calendar stops the count (fail closed) until an
admin loads it, and the calendar itself is data (CLI, admin pages, versions)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import Session, func, select

from credit import clock
from credit.models import AuditEntry, CalendarYear, Listing
from credit.services.calendar import calendar_warnings, working_calendar
from credit.services.due_process import DueProcessError, approve_due, decide_black, serve_notice
from tests.conftest import AuthActions, post_form
from tests.factories import make_user
from tests.test_due_process import proposal_on, serve, staff

D = date.fromisoformat


def listing(engine, listing_id: int) -> Listing:
    with Session(engine) as s:
        return s.get(Listing, listing_id)


def calendar_versions(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(CalendarYear)).one()


# --- the deadlines the issue pinned, through service ----------------------------------------------------------


@pytest.mark.parametrize(
    ("served", "deadline"),
    [("2025-09-26", "2025-10-16"), ("2026-02-06", "2026-02-27"), ("2026-09-30", "2026-10-20")],
)
def test_the_deadline_is_ten_official_working_days_after_service(session, served, deadline):
    entry = proposal_on(session, D(served), served=False)
    serve(session, entry, D(served))
    assert (entry.served_on, entry.deadline) == (D(served), D(deadline))
    _, reviewer = staff(session)
    with pytest.raises(DueProcessError, match="届满后方可决定"):
        decide_black(session, entry, reviewer, approve=True, note="", on=D(deadline))
    assert approve_due(session, reviewer, on=D(deadline)) == []
    day_after = D(deadline) + timedelta(days=1)
    assert approve_due(session, reviewer, on=day_after) == [entry]
    assert (entry.status, entry.listed_from) == ("listed", day_after)


def test_the_period_runs_from_service_not_from_the_proposal(session):
    entry = proposal_on(session, D("2026-03-02"), served=False)
    assert entry.deadline is None
    _, reviewer = staff(session)
    with pytest.raises(DueProcessError, match="尚未送达"):
        decide_black(session, entry, reviewer, approve=True, note="", on=D("2026-06-01"))
    assert approve_due(session, reviewer, on=D("2026-06-01")) == []  # months later, still not served
    serve(session, entry, D("2026-05-29"))  # a Friday
    assert entry.deadline == D("2026-06-12")
    assert approve_due(session, reviewer, on=D("2026-06-12")) == []
    assert approve_due(session, reviewer, on=D("2026-06-15")) == [entry]


def test_public_notice_service_counts_from_the_end_of_the_notice_period(session):
    entry = proposal_on(session, D("2026-03-02"), served=False)
    serve(session, entry, D("2026-03-02"), method="public_notice")
    # 公告送达: served 30 days after the notice was published (rule set: public_notice_days)
    assert (entry.notice_sent_on, entry.served_on) == (D("2026-03-02"), D("2026-04-01"))
    assert entry.deadline == D("2026-04-16")  # 清明 2026-04-04..06 off


def test_service_is_refused_with_a_reason(session):
    entry = proposal_on(session, D("2026-03-02"), served=False)
    recorder, _ = staff(session)
    checker = make_user(session, username="chk", role="checker")
    cases = [
        ({"by": checker, "on": D("2026-03-03"), "method": "direct"}, "不是在职的录入员或审核员"),
        ({"by": recorder, "on": D("2026-03-03"), "method": "pigeon"}, "送达方式须为"),
        ({"by": recorder, "on": D("2026-03-01"), "method": "direct"}, "早于拟列入日期"),
        ({"by": recorder, "on": D("2026-11-23"), "method": "direct"}, "晚于今天"),
    ]
    for kwargs, message in cases:
        with pytest.raises(DueProcessError, match=message):
            serve_notice(session, entry, **kwargs)
        assert entry.served_on is None and entry.deadline is None
    serve_notice(session, entry, by=recorder, on=D("2026-03-03"), method="mail", note="EMS 1234")
    with pytest.raises(DueProcessError, match="不能重复登记"):
        serve_notice(session, entry, by=recorder, on=D("2026-03-04"), method="direct")
    assert (entry.served_on, entry.service_method, entry.service_note) == (D("2026-03-03"), "mail", "EMS 1234")


def test_a_waiver_needs_the_notice_served_first(session):
    from credit.services.due_process import waive_objection

    entry = proposal_on(session, D("2026-03-02"), served=False)
    recorder, _ = staff(session)
    with pytest.raises(DueProcessError, match="尚未送达"):
        waive_objection(session, entry, recorded_by=recorder, note="企业书面声明放弃")
    assert not entry.waived


# --- fail closed: a year without a calendar ---------------------------------------------------------------------


def test_a_deadline_into_a_year_without_a_calendar_is_not_computed_and_nothing_is_decided(session):
    with clock.today_is("2026-12-30"):
        entry = proposal_on(session, D("2026-12-22"), served=True)
        assert (entry.served_on, entry.deadline) == (D("2026-12-22"), None)
        _, reviewer = staff(session)
        with pytest.raises(DueProcessError, match="法定工作日历尚未载入"):
            decide_black(session, entry, reviewer, approve=True, note="", on=D("2026-12-30"))
        assert approve_due(session, reviewer, on=D("2026-12-30")) == []
        warnings = calendar_warnings(session, today=clock.today(), warn_days=75)
        assert {w.code for w in warnings} == {"next_year", "blocked"}
        assert entry.status == "proposed"


def test_the_admin_home_page_warns_before_the_year_turns(client, auth, tx):
    auth.login_as("admin")
    page = client.get("/admin/").get_data(as_text=True)
    assert 'data-code="next_year"' in page and "2027 年的法定工作日历尚未载入" in page  # 40 days before
    with clock.today_is("2026-09-01"):  # too early to warn
        assert "calendar-warning" not in client.get("/admin/").get_data(as_text=True)
    with clock.today_is("2027-01-04"):  # the year has begun without one
        page = client.get("/admin/").get_data(as_text=True)
        assert 'data-code="this_year"' in page


CALENDAR_2027 = """
year = 2027
source = "测试用:国务院办公厅关于 2027 年部分节假日安排的通知(示例数据)"
holidays = ["2027-01-01", "2027-01-02", "2027-01-03"]
workdays = []
"""


def test_loading_the_missing_year_computes_the_waiting_deadlines(runner, tx, engine, tmp_path):
    with clock.today_is("2026-12-30"), tx() as s:
        entry_id = proposal_on(s, D("2026-12-22")).id
    assert listing(engine, entry_id).deadline is None
    path = tmp_path / "2027.toml"
    path.write_text(CALENDAR_2027, encoding="utf-8")
    with clock.today_is("2026-12-30"):
        result = runner.invoke(args=["credit", "calendar", "load", str(path), "--by", "admin"])
    assert result.exit_code == 0, result.output
    assert "2027 年:已载入为第 1 版" in result.output and "1 件拟列入的异议期随之更新" in result.output
    # 12-23 … 12-31 are 7 working days, 1-1..1-3 off, then 1-4, 1-5, 1-6
    assert listing(engine, entry_id).deadline == D("2027-01-06")
    with clock.today_is("2026-12-30"):
        again = runner.invoke(args=["credit", "calendar", "load", str(path)])
    assert again.exit_code == 0 and "未变" in again.output
    shown = runner.invoke(args=["credit", "calendar", "show", "2027"])
    assert shown.exit_code == 0, shown.output
    assert "2027 年 第 1 版" in shown.output and "2027-01-01 2027-01-02 2027-01-03" in shown.output
    assert "工作日 260 天" in shown.output  # 261 weekdays in 2027 less New Year's Day (a Friday) in this sample


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('year = 2027\nsource = "x"\nholidays = ["2027-02-30"]\n', "2027-02-30"),
        ('year = 2027\nsource = "x"\nworkdays = ["2027-02-08"]\n', "周一至周五"),
        ('year = 2027\nholidays = ["2027-01-01"]\n', "来源"),
        ("year = \n", "无法解析"),
        ('{"years": [{"year": 2027, "source": "x"}, {"year": "2028"}]}', "第 2 个年份缺少整数 year"),
    ],
)
def test_a_bad_calendar_file_changes_nothing(runner, engine, tmp_path, text, message):
    before = calendar_versions(engine)
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["credit", "calendar", "load", str(path)])
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert calendar_versions(engine) == before


def test_a_changed_year_is_a_new_version_and_the_old_one_stays(runner, engine, tmp_path):
    path = tmp_path / "2026.json"
    path.write_text(
        json.dumps({"year": 2026, "source": "更正(示例)", "holidays": ["2026-01-01"], "workdays": []}), encoding="utf-8"
    )
    result = runner.invoke(args=["credit", "calendar", "load", str(path)])
    assert result.exit_code == 0 and "第 2 版" in result.output
    with Session(engine) as s:
        assert [v.version for v in s.exec(select(CalendarYear).where(CalendarYear.year == 2026))] == [1, 2]
        assert working_calendar(s).years[2026].holidays == frozenset({D("2026-01-01")})


def test_calendar_show_of_an_unloaded_year_exits_2(runner):
    result = runner.invoke(args=["credit", "calendar", "show", "2031"])
    assert result.exit_code == 2 and "2031 年的法定工作日历尚未载入" in result.output


def test_the_database_refuses_to_change_a_calendar_version(engine):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    for statement in ("UPDATE calendar_year SET source = 'x'", "DELETE FROM calendar_year"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_admin_enters_a_year_in_the_browser_form(client, auth, engine):
    auth.login_as("admin")
    assert client.get("/admin/calendar").status_code == 200
    response = post_form(
        client,
        "/admin/calendar/new",
        {
            "year": "2027",
            "source": "国办发明电〔2026〕示例号",
            "holidays": "2027-01-01..2027-01-03\n2027-02-06..2027-02-12",
            "workdays": "2027-02-14, 2027-02-20",
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "2027 年工作日历已保存为第 1 版" in page
    with Session(engine) as s:
        year = working_calendar(s).years[2027]
    assert len(year.holidays) == 10 and year.workdays == {D("2027-02-14"), D("2027-02-20")}
    bad = post_form(client, "/admin/calendar/new", {"year": "2028", "source": "x", "holidays": "2028-13-01"})
    assert bad.status_code == 422 and "2028-13-01" in bad.get_data(as_text=True)
    assert calendar_versions(engine) == 24


def test_only_admins_enter_a_calendar(client, auth):
    auth.login_as("reviewer")
    assert client.get("/admin/calendar").status_code == 200
    assert client.get("/admin/calendar/new").status_code == 403


# --- the command line and the pages -----------------------------------------------------------------------------


def test_cli_serve_all_and_by_id(runner, tx, engine):
    with tx() as s:
        first = proposal_on(s, D("2026-11-02"), served=False).id
        second = proposal_on(s, D("2026-11-03"), served=False).id
        third = proposal_on(s, D("2026-11-04"), served=False).id
    result = runner.invoke(
        args=["credit", "listings", "serve", str(first), "--by", "rec", "--on", "2026-11-05", "--method", "mail"]
    )
    assert result.exit_code == 0, result.output
    assert f"#{first} 送达日 2026-11-05,异议期至 2026-11-19" in result.output
    result = runner.invoke(args=["credit", "listings", "serve", "--all", "--by", "rev"])
    assert result.exit_code == 0, result.output
    assert "已登记送达 2 件告知书" in result.output
    assert [listing(engine, i).served_on for i in (first, second, third)] == [D("2026-11-05"), *[D("2026-11-22")] * 2]
    assert listing(engine, second).deadline == D("2026-12-04")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "rec"], "二者择一"),
        (["1", "--all", "--by", "rec"], "二者择一"),
        (["1", "--by", "nobody"], "没有用户 nobody"),
        (["999", "--by", "rec"], "没有编号为 999"),
        (["1", "2", "--by", "rec", "--on", "2026-11-04"], "早于拟列入日期"),  # #2 was proposed on 11-05
        (["1", "--by", "rec", "--on", "2026-11-23"], "晚于今天"),
        (["1", "--by", "rec", "--on", "9999-12-31"], "晚于今天"),
        (["1", "--by", "rec", "--on", "0001-01-01"], "早于 1990-01-01"),
    ],
)
def test_cli_serve_refuses_bad_input_and_changes_nothing(runner, tx, engine, args, message):
    with tx() as s:
        proposal_on(s, D("2026-11-02"), served=False)
        proposal_on(s, D("2026-11-05"), served=False)
    with Session(engine) as s:
        audit_before = s.exec(select(func.count()).select_from(AuditEntry)).one()
    result = runner.invoke(args=["credit", "listings", "serve", *args])
    assert result.exit_code == 1, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert listing(engine, 1).served_on is None and listing(engine, 2).served_on is None
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(AuditEntry)).one() == audit_before


def test_web_serves_one_notice_and_the_notice_prints_service_and_deadline(client, tx, engine):
    with tx() as s:
        entry_id = proposal_on(s, D("2026-11-02"), served=False).id
    AuthActions(client, engine).login("rec")
    page = client.get(f"/admin/listings/{entry_id}").get_data(as_text=True)
    assert "尚未送达" in page and "登记告知书送达" in page
    response = post_form(
        client,
        f"/admin/listings/{entry_id}/serve",
        {"serve-method": "electronic", "serve-on": "2026-11-03", "serve-note": "电子邮件已读回执"},
        follow_redirects=True,
    )
    assert "已登记送达 1 件告知书" in response.get_data(as_text=True)
    assert (listing(engine, entry_id).served_on, listing(engine, entry_id).deadline) == (
        D("2026-11-03"),
        D("2026-11-17"),
    )
    notice = client.get(f"/admin/listings/{entry_id}/notice").get_data(as_text=True)
    assert "本告知书于 2026-11-03 送达,请于 2026-11-17(含当日)前提出" in notice
    assert "电子送达" in notice and "电子邮件已读回执" in notice


def test_web_refuses_a_service_date_in_the_future(client, tx, engine):
    with tx() as s:
        entry_id = proposal_on(s, D("2026-11-02"), served=False).id
    AuthActions(client, engine).login("rec")
    for day in ("2026-11-23", "9999-12-31", "0001-01-01"):
        response = post_form(
            client,
            f"/admin/listings/{entry_id}/serve",
            {"serve-method": "direct", "serve-on": day},
            follow_redirects=True,
        )
        assert response.status_code == 200
        assert "晚于今天" in response.get_data(as_text=True) or "早于 1990" in response.get_data(as_text=True)
        assert listing(engine, entry_id).served_on is None


def test_web_serves_several_notices_at_once_all_or_nothing(client, tx, engine):
    with tx() as s:
        ids = [proposal_on(s, D(day), served=False).id for day in ("2026-11-02", "2026-11-09", "2026-11-16")]
    AuthActions(client, engine).login("rev")
    page = client.get("/admin/listings?status=unserved").get_data(as_text=True)
    assert all(f'name="ids" value="{i}"' in page for i in ids)
    # 11-10 is before the third proposal: nothing is served
    refused = post_form(
        client,
        "/admin/listings/serve",
        {"ids": [str(i) for i in ids], "serve-method": "direct", "serve-on": "2026-11-10"},
        follow_redirects=True,
    )
    assert "早于拟列入日期" in refused.get_data(as_text=True)
    assert all(listing(engine, i).served_on is None for i in ids)
    done = post_form(
        client,
        "/admin/listings/serve",
        {"ids": [str(i) for i in ids], "serve-method": "direct", "serve-on": "2026-11-20"},
        follow_redirects=True,
    )
    assert "已登记送达 3 件告知书" in done.get_data(as_text=True)
    assert {listing(engine, i).deadline for i in ids} == {D("2026-12-04")}


def test_the_page_says_why_a_proposal_cannot_be_decided(client, tx, engine):
    with tx() as s:
        unserved = proposal_on(s, D("2026-11-02"), served=False).id
        running = proposal_on(s, D("2026-11-20")).id
    AuthActions(client, engine).login("rev")
    assert 'data-code="not_served"' in client.get(f"/admin/listings/{unserved}").get_data(as_text=True)
    page = client.get(f"/admin/listings/{running}").get_data(as_text=True)
    assert 'data-code="period_running"' in page and "异议期至 2026-12-04 届满" in page
