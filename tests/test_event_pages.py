"""The credit file in the browser: record, review (four-eyes), revoke, correct, import by upload."""

from __future__ import annotations

import io
import re

import pytest
from sqlmodel import Session, func, select

from credit.models import CreditEvent, ImportBatch
from tests.conftest import AuthActions, post_form
from tests.factories import make_firm, make_user


def events(engine) -> list[CreditEvent]:
    with Session(engine) as s:
        return list(s.exec(select(CreditEvent).order_by(CreditEvent.id)))


@pytest.fixture
def firm(tx):
    with tx() as s:
        make_user(s, username="recorder", role="recorder", display_name="李录入")
        make_user(s, username="reviewer", role="reviewer", display_name="王审核")
        return make_firm(s, name="东莞市档案测试电器有限公司")


def fail_event(uscc: str, **overrides) -> dict:
    return {
        "uscc": uscc,
        "event_type": "spot_check_fail",
        "occurred_on": "2026-03-15",
        "document_no": "东市监抽〔2026〕15号",
        "authority": "东莞市市场监督管理局",
        "severity": "serious",
        "product": "电热水壶",
        **overrides,
    }


def test_record_approve_and_the_file_shows_both_names(app, client, auth, firm, engine):
    auth.login("recorder")
    response = post_form(client, "/admin/events/new", fail_event(firm.uscc))
    assert response.status_code == 302
    (event,) = events(engine)
    assert event.status == "pending"

    # the recorder cannot approve: the role is missing, and it would be their own record anyway
    assert post_form(client, f"/admin/events/{event.id}/approve", {}).status_code == 403
    assert events(engine)[0].status == "pending"

    reviewer = app.test_client()
    AuthActions(reviewer, engine).login("reviewer")
    page = reviewer.get("/admin/review").get_data(as_text=True)
    assert "东莞市档案测试电器有限公司" in page and "李录入" in page
    assert post_form(reviewer, f"/admin/events/{event.id}/approve", {"approve-note": "材料齐全"}).status_code == 302
    (event,) = events(engine)
    assert event.status == "effective"

    file_page = client.get(f"/admin/firms/{firm.uscc}").get_data(as_text=True)
    assert "监督抽查不合格" in file_page and "已生效" in file_page
    assert "李录入" in file_page and "王审核" in file_page


def test_reviewer_who_recorded_cannot_approve_their_own(client, auth, tx, firm, engine):
    from credit.services.events import record_event
    from credit.services.users import get_user

    with tx() as s:
        reviewer = get_user(s, "reviewer")
        event = record_event(s, fail_event(firm.uscc), recorder=reviewer)
    auth.login("reviewer")
    page = client.get(f"/admin/events/{event.id}").get_data(as_text=True)
    assert "双人复核" in page
    response = post_form(client, f"/admin/events/{event.id}/approve", {}, follow_redirects=True)
    assert "不能审核自己录入的事件" in response.get_data(as_text=True)
    assert events(engine)[0].status == "pending"


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        ({"severity": ""}, "severity", "严重程度"),
        ({"uscc": "914403001922038217"}, "uscc", "校验码"),
        ({"uscc": "914403001922038216"}, "uscc", "未登记"),
        ({"occurred_on": "2099-01-01"}, "occurred_on", "晚于今天"),
        ({"event_type": "certification", "severity": ""}, "valid_until", "有效期至"),
    ],
)
def test_bad_event_is_refused_on_the_form(client, auth, firm, engine, override, field, message):
    auth.login("recorder")
    response = post_form(client, "/admin/events/new", {**fail_event(firm.uscc), **override})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error">.*?{message}', html, re.S), html[html.find("errors") - 200 :][:600]
    assert events(engine) == []


def test_duplicate_natural_key_is_refused(client, auth, firm, engine):
    auth.login("recorder")
    post_form(client, "/admin/events/new", fail_event(firm.uscc))
    response = post_form(client, "/admin/events/new", fail_event(firm.uscc))
    assert response.status_code == 422
    assert "同类型、同文书号" in response.get_data(as_text=True)
    assert len(events(engine)) == 1


def test_reject_needs_a_reason_and_shows_it(app, client, auth, firm, engine):
    auth.login("recorder")
    post_form(client, "/admin/events/new", fail_event(firm.uscc))
    event_id = events(engine)[0].id
    auth.logout()
    auth.login("reviewer")
    post_form(client, f"/admin/events/{event_id}/reject", {"reject-reason": ""})
    assert events(engine)[0].status == "pending"
    post_form(client, f"/admin/events/{event_id}/reject", {"reject-reason": "文书号与原件不符"})
    assert events(engine)[0].status == "rejected"
    assert "文书号与原件不符" in client.get(f"/admin/firms/{firm.uscc}").get_data(as_text=True)


def test_revoked_event_stays_on_the_file_with_its_reason(client, auth, tx, firm, engine):
    from credit.services.events import approve_event, record_event
    from credit.services.users import get_user

    with tx() as s:
        event = record_event(s, fail_event(firm.uscc), recorder=get_user(s, "recorder"))
        approve_event(s, event, get_user(s, "reviewer"))
    auth.login("reviewer")
    assert post_form(client, f"/admin/events/{event.id}/revoke", {"revoke-reason": ""}).status_code == 302
    assert events(engine)[0].status == "effective"  # no reason, no revocation
    post_form(client, f"/admin/events/{event.id}/revoke", {"revoke-reason": "复检推翻原抽检结论"})
    (stored,) = events(engine)
    assert (stored.status, stored.revoke_reason) == ("revoked", "复检推翻原抽检结论")
    page = client.get(f"/admin/firms/{firm.uscc}").get_data(as_text=True)
    assert "已撤销" in page and "复检推翻原抽检结论" in page and stored.document_no in page


def test_correction_replaces_the_record_after_review(client, auth, tx, firm, engine):
    from credit.services.events import approve_event, record_event
    from credit.services.users import get_user

    with tx() as s:
        original = record_event(s, fail_event(firm.uscc), recorder=get_user(s, "recorder"))
        approve_event(s, original, get_user(s, "reviewer"))
    auth.login("recorder")
    form = client.get(f"/admin/events/{original.id}/correct").get_data(as_text=True)
    assert "电热水壶" in form  # pre-filled with the original
    data = {**fail_event(firm.uscc, severity="general"), "reason": "严重程度录入错误"}
    response = post_form(client, f"/admin/events/{original.id}/correct", data)
    assert response.status_code == 302
    correction = events(engine)[1]
    assert (correction.corrects_id, correction.status, correction.severity) == (original.id, "pending", "general")
    auth.logout()
    auth.login("reviewer")
    post_form(client, f"/admin/events/{correction.id}/approve", {})
    first, second = events(engine)
    assert (first.status, second.status) == ("revoked", "effective")
    assert f"#{second.id}" in first.revoke_reason


def test_import_by_upload_and_batch_approval(app, client, auth, firm, engine):
    csv_text = (
        "统一社会信用代码,事件类型,发生日期,文书号,作出机关,严重程度\n"
        f"{firm.uscc},监督抽查不合格,2026-01-10,抽-1,东莞市市场监督管理局,一般\n"
        f"{firm.uscc},spot_check_pass,2026-02-10,抽-2,东莞市市场监督管理局,\n"
    )
    auth.login("recorder")
    from tests.conftest import csrf_token

    def upload(text: str, name: str = "events.csv"):
        return client.post(
            "/admin/imports",
            data={"file": (io.BytesIO(text.encode()), name), "csrf_token": csrf_token(client, "/admin/imports")},
            content_type="multipart/form-data",
        )

    bad = upload(csv_text.replace("2026-02-10", "2026-02-30"))
    assert bad.status_code == 422
    assert "第 3 行" not in bad.get_data(as_text=True)  # rows are shown in a table
    assert re.search(r"<td>3</td><td>occurred_on</td>", bad.get_data(as_text=True))
    assert events(engine) == []
    assert upload(csv_text).status_code == 200
    assert len(events(engine)) == 2
    assert upload(csv_text).status_code == 200  # again: nothing added
    assert len(events(engine)) == 2
    assert upload("not,a,valid,header\n1,2,3,4\n", "x.csv").status_code == 422

    reviewer = app.test_client()
    AuthActions(reviewer, engine).login("reviewer")
    with Session(engine) as s:
        batch = s.exec(select(ImportBatch)).one()
    assert post_form(reviewer, f"/admin/imports/{batch.id}/approve", {}).status_code == 302
    assert {e.status for e in events(engine)} == {"effective"}
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(ImportBatch)).one() == 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_template_downloads_import_cleanly(client, auth, firm, fmt, engine):
    auth.login("recorder")
    response = client.get(f"/admin/imports/template.{fmt}")
    assert response.status_code == 200
    from credit.services.event_import import EVENT_COLUMNS, REQUIRED_EVENT_COLUMNS
    from credit.services.tabular import read_table

    rows = list(read_table(response.data, EVENT_COLUMNS, required=REQUIRED_EVENT_COLUMNS, filename=f"t.{fmt}"))
    assert [r["event_type"] for _, r in rows] == ["spot_check_fail", "cqo_appointed"]
    assert rows[0][1]["uscc"] == "914403001922038216"
