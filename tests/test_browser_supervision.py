"""The 工作台 queues and the 双随机 plan page in a real browser (Chromium via Playwright), with screenshots."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Page, expect

from credit.models import FirmAssessment
from credit.models.assessment import VALID_FOREVER
from credit.services.events import record_event
from credit.services.plans import import_roster
from credit.services.rulesets import active_ruleset, ensure_default_ruleset
from tests.factories import make_firm, make_user
from tests.test_browser import browser, live_url, log_in, page  # noqa: F401 - the fixtures

pytestmark = pytest.mark.browser


def test_reviewer_sees_queues_and_draws_a_plan(page: Page, live_url: str, tx, screenshot):  # noqa: F811
    with tx() as s:
        ensure_default_ruleset(s)
        make_user(s, username="reviewer", role="reviewer")
        recorder = make_user(s, username="recorder", role="recorder")
        version = active_ruleset(s).version
        for i, grade in enumerate("AAAABBBBBBCCCDD"):
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
            if i < 3:
                raw = {
                    "uscc": firm.uscc,
                    "event_type": "spot_check_pass",
                    "occurred_on": "2026-10-01",
                    "document_no": f"抽-{i}",
                    "authority": "市场监督管理局",
                }
                record_event(s, raw, recorder=recorder)
        import_roster(
            s, "执法证号,姓名,所属单位\nZF001,王一,稽查一科\nZF002,李二,稽查一科\nZF003,张三,稽查二科\n".encode()
        )

    log_in(page, live_url, "reviewer")
    queue = page.locator('[data-queue="to_review"]')
    expect(queue.locator(".count")).to_have_text("3")
    expect(queue.get_by_role("link")).to_have_count(3)
    expect(page.locator('[data-queue="open_objections"] .count')).to_have_text("0")
    screenshot(page, "workbench-reviewer")

    page.get_by_role("link", name="双随机抽查计划").click()
    page.get_by_label("随机种子").fill("2026-12-第1批")
    page.get_by_role("button", name="抽取").click()
    expect(page.get_by_role("heading", name="抽查计划 #1")).to_be_visible()
    expect(page.locator('tr[data-grade="D"] td').nth(3)).to_have_text("2")
    rows = page.locator("table.plan-firms tbody tr")
    count = rows.count()
    assert count == 0 + 1 + 1 + 2  # A: 4 × 3 % rounds to 0; B: 6 × 10 % to 1; C: 3 × 40 % to 1; D: both
    screenshot(page, "plan-detail")

    page.goto(f"{live_url}/admin/plans")
    page.get_by_label("随机种子").fill("2026-12-第1批")
    page.get_by_role("button", name="抽取").click()
    expect(page.get_by_text("同一种子、同一数据:沿用已存计划。")).to_be_visible()
    expect(page.get_by_role("heading", name="抽查计划 #1")).to_be_visible()


def test_recorder_queues(page: Page, live_url: str, tx, screenshot):  # noqa: F811
    with tx() as s:
        ensure_default_ruleset(s)
        recorder = make_user(s, username="recorder", role="recorder")
        firm = make_firm(s)
        for i in range(12):
            raw = {
                "uscc": firm.uscc,
                "event_type": "spot_check_pass",
                "occurred_on": "2026-10-01",
                "document_no": f"抽-{i}",
                "authority": "市场监督管理局",
            }
            record_event(s, raw, recorder=recorder)
    log_in(page, live_url, "recorder")
    pending = page.locator('[data-queue="my_pending"]')
    expect(pending.locator(".count")).to_have_text("12")
    expect(pending.get_by_role("listitem")).to_have_count(10)
    expect(page.locator('[data-queue="to_review"]')).to_have_count(0)
    screenshot(page, "workbench-recorder")
