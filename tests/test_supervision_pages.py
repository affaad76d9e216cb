"""Supervision pages: make, list, view and export plans (roles, CSRF, bad input a clear 422); the roster
page (admin only, import all-or-nothing); honour rolls by streak (revoked checks never count)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import text

from credit.models import FirmAssessment
from credit.models.assessment import VALID_FOREVER
from credit.rules.ruleset import default_ruleset
from credit.services.events import approve_event, record_event, revoke_event
from credit.services.honour_rolls import roll_counts, roll_page
from credit.services.plans import import_roster
from credit.services.rulesets import active_ruleset, ensure_default_ruleset
from tests.conftest import post_form
from tests.factories import make_firm, make_user


@pytest.fixture
def graded(tx):
    with tx() as s:
        ensure_default_ruleset(s)
        version = active_ruleset(s).version
        for grade in "AABBBCDD":
            firm = make_firm(s)
            s.add(
                FirmAssessment(
                    firm_id=firm.id,
                    as_of=date(2026, 11, 1),
                    score=100,
                    grade=grade,
                    rule_set_version=version,
                    valid_until=VALID_FOREVER,
                )
            )
        import_roster(s, "执法证号,姓名\nZF1,甲\nZF2,乙\nZF3,丙\n".encode())


def plans_in(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM supervision_plan")).scalar_one()


@pytest.mark.parametrize("path", ["/admin/plans", "/admin/honour-rolls", "/admin/inspectors"])
def test_pages_need_a_login(client, path):
    assert client.get(path).status_code == 302


def test_reviewer_makes_a_plan_views_and_exports_it(graded, client, auth, engine):
    auth.login_as("reviewer")
    response = post_form(client, "/admin/plans", {"seed": "第1批", "as_of": "2026-11-22"})
    assert response.status_code == 302, response.get_data(as_text=True)
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "第1批" in detail and 'data-grade="D"><td>D</td><td>100%</td><td>2</td><td>2</td>' in detail
    again = post_form(client, "/admin/plans", {"seed": "第1批", "as_of": "2026-11-22"})
    assert again.headers["Location"] == response.headers["Location"] and plans_in(engine) == 1
    export = client.get(response.headers["Location"] + ".xlsx")
    assert export.status_code == 200 and export.data[:2] == b"PK"
    listing = client.get("/admin/plans").get_data(as_text=True)
    assert "第1批" in listing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"seed": "x", "as_of": "2026-11-23"}, "晚于今天"),
        ({"seed": "x", "as_of": "2026-13-01"}, "日期"),
        ({"seed": ""}, ""),
    ],
)
def test_bad_plan_input_is_a_clear_422(graded, client, auth, engine, data, message):
    auth.login_as("reviewer")
    response = post_form(client, "/admin/plans", data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert plans_in(engine) == 0


def test_recorder_views_but_cannot_make_plans(graded, client, auth, engine):
    auth.login_as("recorder")
    assert client.get("/admin/plans").status_code == 200
    assert post_form(client, "/admin/plans", {"seed": "x"}).status_code == 403
    assert plans_in(engine) == 0


def test_plan_form_needs_csrf(graded, client, auth, engine):
    auth.login_as("reviewer")
    assert client.post("/admin/plans", data={"seed": "x"}).status_code in (400, 422)
    assert plans_in(engine) == 0


def test_roster_page_admin_only_and_all_or_nothing(graded, client, auth, engine):
    auth.login_as("recorder")
    assert client.get("/admin/inspectors").status_code == 403
    auth.logout()
    auth.login_as("admin")
    bad = post_form(
        client,
        "/admin/inspectors",
        {"file": (io.BytesIO("执法证号,姓名\nZF9,丁\nZF9,戊\n".encode()), "r.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "重复" in bad.get_data(as_text=True)
    good = post_form(
        client,
        "/admin/inspectors",
        {"file": (io.BytesIO("执法证号,姓名\nZF9,丁\n".encode()), "r.csv")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM inspector")).scalar_one() == 4
    post_form(client, "/admin/inspectors/deactivate", {"code": "ZF9"})
    with engine.connect() as conn:
        assert conn.execute(text("SELECT active FROM inspector WHERE code = 'ZF9'")).scalar_one() in (False, 0)


def check(uscc: str, event_type: str, occurred_on: str, n: int, **kw) -> dict:
    return {
        "uscc": uscc,
        "event_type": event_type,
        "occurred_on": occurred_on,
        "document_no": f"抽-{n}",
        "authority": "市场监督管理局",
        **kw,
    }


def test_honour_rolls_by_streak(tx, session, client, auth):
    with tx() as s:
        ensure_default_ruleset(s)
        rec, rev = make_user(s, role="recorder"), make_user(s, role="reviewer")
        ten, five, failed, revoked_fail, _unchecked = (make_firm(s) for _ in range(5))
        rows = [
            (ten, "spot_check_pass", "2016-06-01"),
            (ten, "spot_check_pass", "2024-06-01"),
            (five, "spot_check_fail", "2020-06-01", "general"),
            (five, "spot_check_pass", "2021-06-01"),
            (five, "spot_check_pass", "2024-06-01"),
            (failed, "spot_check_pass", "2025-06-01"),
            (failed, "spot_check_fail", "2026-06-01", "general"),
            (revoked_fail, "spot_check_pass", "2023-01-01"),
        ]
        for n, (firm, kind, day, *severity) in enumerate(rows):
            extra = {"severity": severity[0]} if severity else {}
            approve_event(s, record_event(s, check(firm.uscc, kind, day, n, **extra), recorder=rec), rev)
        bad = record_event(
            s, check(revoked_fail.uscc, "spot_check_fail", "2026-01-01", 99, severity="general"), recorder=rec
        )
        approve_event(s, bad, rev)
        revoke_event(s, bad, rev, "文书号错误")
        recent = make_firm(s)  # checked once, last year: no streak of three years yet
        approve_event(s, record_event(s, check(recent.uscc, "spot_check_pass", "2025-06-01", 50), recorder=rec), rev)
        ids = {"ten": ten.uscc, "five": five.uscc, "revoked": revoked_fail.uscc}
    rules = default_ruleset()
    day = date(2026, 11, 22)
    assert roll_counts(session, rules, day) == {"ten_years": 1, "five_years": 1, "three_years": 1}
    by_roll = {r.code: [e.uscc for e in roll_page(session, rules, day, r)] for r in rules.honour.rolls}
    assert by_roll == {"ten_years": [ids["ten"]], "five_years": [ids["five"]], "three_years": [ids["revoked"]]}
    auth.login_as("reviewer")
    html = client.get("/admin/honour-rolls?roll=five_years").get_data(as_text=True)
    assert ids["five"] in html and ids["ten"] not in html and "十年榜" in html
