"""The 工作台 work queues: per role, counted in SQL (the page's counts equal independent SQL counts),
four-eyes (a reviewer never sees their own records to review), bounded lists; the admin's warnings."""

from __future__ import annotations

import re
from datetime import UTC, date, timedelta

import pytest
from sqlalchemy import text

from credit.models import ApiKey, Department, Listing, Petition
from credit.services.events import record_event, reject_event
from credit.services.rulesets import ensure_default_ruleset
from credit.services.work_queues import week_of
from tests.factories import make_firm, make_user

TODAY = date(2026, 11, 22)  # a Sunday: its week is 2026-11-16 … 2026-11-22


def raw(uscc: str, n: int) -> dict:
    return {
        "uscc": uscc,
        "event_type": "spot_check_pass",
        "occurred_on": "2026-10-01",
        "document_no": f"抽-{n}",
        "authority": "市场监督管理局",
    }


@pytest.fixture
def desk(tx):
    """Records by two recorders and a reviewer-recorder, some rejected; proposals with deadlines in and out
    of this week; open and decided petitions."""
    with tx() as s:
        ensure_default_ruleset(s)
        rec = make_user(s, username="recorder", role="recorder", password="correct-horse-42")
        other = make_user(s, username="rec2", role="recorder")
        reviewer = make_user(s, username="reviewer", role="reviewer", password="correct-horse-42")
        checker_of_records = make_user(s, role="reviewer")
        firms = [make_firm(s) for _ in range(5)]
        n = 0
        for who, count in ((rec, 14), (other, 3), (reviewer, 2)):
            for _ in range(count):
                n += 1
                event = record_event(s, raw(firms[n % 5].uscc, n), recorder=who)
                if who is rec and n % 4 == 0:
                    reject_event(s, event, checker_of_records, "文书号不符")
        monday, sunday = week_of(TODAY)
        for i, deadline in enumerate((monday, sunday, sunday + timedelta(days=1), monday - timedelta(days=1), None)):
            s.add(
                Listing(
                    firm_id=firms[i].id,
                    kind="black",
                    status="proposed",
                    reason="测试",
                    basis={},
                    rule_set_version=1,
                    proposed_on=date(2026, 11, 1),
                    deadline=deadline,
                )
            )
        for i, (kind, status) in enumerate((("objection", "open"), ("objection", "granted"), ("repair", "open"))):
            s.add(
                Petition(
                    reference=f"YY-{i}",
                    kind=kind,
                    status=status,
                    firm_id=firms[i].id,
                    applicant_name="张三",
                    applicant_contact="0769-1",
                    statement="异议",
                )
            )
    return None


def sql_count(engine, statement: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(statement), params).scalar_one()


def page_counts(html: str) -> dict[str, int]:
    return {
        code: int(n)
        for code, n in re.findall(r'data-queue="(\w+)">\s*<h2>[^<]*<span class="count" data-count="(\d+)"', html)
    }


def test_recorder_sees_their_pending_and_rejected(desk, client, auth, engine):
    auth.login("recorder")
    html = client.get("/admin/").get_data(as_text=True)
    counts = page_counts(html)
    me = sql_count(engine, "SELECT id FROM users WHERE username = 'recorder'")
    assert counts["my_pending"] == sql_count(
        engine, "SELECT COUNT(*) FROM credit_event WHERE status = 'pending' AND recorded_by_id = :me", me=me
    )
    assert counts["my_rejected"] == sql_count(
        engine, "SELECT COUNT(*) FROM credit_event WHERE status = 'rejected' AND recorded_by_id = :me", me=me
    )
    assert counts == {"my_pending": 11, "my_rejected": 3}
    assert "to_review" not in counts
    assert len(re.findall(r'href="/admin/events/\d+"', html)) == 10 + 3  # bounded: at most 10 items a queue


def test_reviewer_queues_four_eyes_deadlines_and_petitions(desk, client, auth, engine):
    auth.login("reviewer")
    html = client.get("/admin/").get_data(as_text=True)
    counts = page_counts(html)
    me = sql_count(engine, "SELECT id FROM users WHERE username = 'reviewer'")
    assert counts["to_review"] == sql_count(
        engine, "SELECT COUNT(*) FROM credit_event WHERE status = 'pending' AND recorded_by_id <> :me", me=me
    )
    assert counts["to_review"] == 11 + 3  # not the reviewer's own two
    assert counts["deadline_this_week"] == sql_count(
        engine,
        "SELECT COUNT(*) FROM listing WHERE kind = 'black' AND status = 'proposed' "
        "AND deadline BETWEEN '2026-11-16' AND '2026-11-22'",
    )
    assert counts["deadline_this_week"] == 2
    assert counts["open_objections"] == 1 and counts["open_repairs"] == 1
    assert "/admin/review" in html  # more than ten to review: a link to the whole queue
    assert "YY-0" in html and "YY-1" not in html


def test_admin_warnings(tx, client, auth, engine):
    with tx() as s:
        ensure_default_ruleset(s)
        department = Department(name="财政局")
        s.add(department)
        s.flush()
        old = TODAY - timedelta(days=200)
        from datetime import datetime

        when = datetime(old.year, old.month, old.day, tzinfo=UTC)
        s.add(ApiKey(department_id=department.id, prefix="p1", secret_hash="x", scopes="check", created_at=when))
        s.add(
            ApiKey(
                department_id=department.id,
                prefix="p2",
                secret_hash="x",
                scopes="check",
                created_at=when,
                last_used_at=when,
            )
        )
    auth.login_as("admin")
    html = client.get("/admin/").get_data(as_text=True)
    assert 'data-code="api_key_unused"' in html and 'data-code="api_key_stale"' in html
    assert 'data-code="roster_small"' in html
    assert 'data-code="next_year"' in html or 'data-code="this_year"' in html  # no 2027 calendar in the package
    assert 'data-queue="' not in html  # an admin has warnings, not record queues


def test_checker_has_no_queues(desk, client, auth):
    auth.login_as("checker")
    html = client.get("/admin/").get_data(as_text=True)
    assert 'data-queue="' not in html and "admin-warning" not in html
