"""The announcement pages over HTTP: upload → preview (nothing written) → import → queue decisions →
referral list; mappings; bad input refused without a 500 and without a change."""

from __future__ import annotations

import io
import re

from sqlmodel import func, select

from credit.db import session_scope
from credit.models import Actor, Announcement, CreditEvent, Firm, NameAlias, PartyState
from credit.models import AnnouncementParty as Party
from credit.services.rulesets import ensure_default_ruleset
from tests.conftest import csrf_token, post_form
from tests.factories import firm_row, make_firm
from tests.test_announcements import PROVINCIAL, csv_bytes, provincial


def rows_file() -> bytes:
    return csv_bytes(
        PROVINCIAL,
        [
            provincial("腐竹", "东莞市页面豆制品有限公司", "东莞市甲超市"),
            provincial(
                "豆干",
                "东莞页面豆制品有限责任公司",
                "东莞市甲超市",
                outcome="不合格",
                item="铅(以Pb计)",
                result="1.2mg/kg",
                limit="≤0.5mg/kg",
            ),
            provincial("豆浆", "烟台外地豆业有限公司", "东莞市甲超市"),
            provincial("豆皮", "2026-03-02", "东莞市甲超市"),
        ],
    )


def count(engine, model) -> int:
    with session_scope(engine, Actor.system("test")) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def upload(client, data: bytes, **fields):
    return client.post(
        "/admin/announcements",
        data={
            "file": (io.BytesIO(data), "公告.csv"),
            "csrf_token": csrf_token(client, "/admin/announcements"),
            **fields,
        },
        content_type="multipart/form-data",
    )


def test_upload_previews_then_imports_and_the_queue_decides(client, auth, tx, engine):
    with tx() as s:
        ensure_default_ruleset(s)
        firm = make_firm(s, name="东莞市页面豆制品有限公司")
    auth.login_as("recorder")
    preview = upload(client, rows_file())
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200, html[:500]
    assert "预览" in html and "名称列是日期" in html and "东莞页面豆制品有限责任公司" in html
    assert count(engine, Announcement) == 0 and count(engine, CreditEvent) == 0  # a preview writes nothing

    data = re.search(r'name="payload" type="hidden" value="([^"]+)"', html).group(1)
    imported = post_form(client, "/admin/announcements/import", {"payload": data, "filename": "公告.csv"})
    assert imported.status_code == 302 and imported.headers["Location"].endswith("/admin/announcements/queue")
    assert count(engine, CreditEvent) == 1
    queue = client.get("/admin/announcements/queue").get_data(as_text=True)
    assert "东莞页面豆制品有限责任公司" in queue and "烟台外地豆业有限公司" in queue

    with tx() as s:
        waiting = s.exec(select(Party).where(Party.name == "东莞页面豆制品有限责任公司")).one()
        key, candidates = waiting.name_key, waiting.candidates
    assert candidates[0]["firm_id"] == firm.id
    confirmed = post_form(client, "/admin/announcements/queue/confirm", {"name_key": key, "firm": str(firm.id)})
    assert confirmed.status_code == 302
    assert "已确认为" in client.get("/admin/announcements/queue").get_data(as_text=True)
    with tx() as s:
        fail = s.exec(select(CreditEvent).where(CreditEvent.event_type == "spot_check_fail")).one()
        assert (fail.firm_id, fail.severity, fail.failed_item) == (firm.id, "serious", "铅(以Pb计)")
        assert s.exec(select(NameAlias)).one().firm_id == firm.id
    detail = client.get(f"/admin/events/{fail.id}").get_data(as_text=True)
    assert "≤0.5mg/kg" in detail and "1.2mg/kg" in detail

    with tx() as s:
        outside_key = s.exec(select(Party.name_key).where(Party.name == "烟台外地豆业有限公司")).one()
    post_form(client, "/admin/announcements/queue/outside", {"name_key": outside_key, "note": "转烟台市局"})
    referrals = client.get("/admin/announcements/referrals.csv")
    assert referrals.status_code == 200 and "烟台外地豆业有限公司" in referrals.get_data(as_text=True)
    assert "转烟台市局" in client.get("/admin/announcements/referrals").get_data(as_text=True)
    assert "没有待确认的企业名称" in client.get("/admin/announcements/queue").get_data(as_text=True)

    again = upload(client, rows_file())  # the same file: the preview says every row is on file already
    assert again.status_code == 200 and count(engine, CreditEvent) == 2


def test_register_a_firm_from_the_queue(client, auth, tx):
    with tx() as s:
        ensure_default_ruleset(s)
    auth.login_as("recorder")
    html = upload(client, rows_file()).get_data(as_text=True)
    data = re.search(r'name="payload" type="hidden" value="([^"]+)"', html).group(1)
    post_form(client, "/admin/announcements/import", {"payload": data})
    with tx() as s:
        key = s.exec(select(Party.name_key).where(Party.name == "东莞市页面豆制品有限公司")).one()
    page = client.get("/admin/announcements/queue/register", query_string={"key": key})
    assert page.status_code == 200 and "东莞市页面豆制品有限公司" in page.get_data(as_text=True)
    row = firm_row(name="东莞市页面豆制品有限公司", region="虎门镇", industry="C13", scale="规下")
    bad = post_form(client, "/admin/announcements/queue/register", {**row, "key": key, "uscc": "914403001922038217"})
    assert bad.status_code == 422 and "校验码" in bad.get_data(as_text=True)
    done = post_form(client, "/admin/announcements/queue/register", {**row, "key": key})
    assert done.status_code == 302
    with tx() as s:
        firm = s.exec(select(Firm).where(Firm.uscc == row["uscc"])).one()
        assert s.exec(select(Party).where(Party.name_key == key)).one().state == PartyState.confirmed
        assert s.exec(select(func.count()).select_from(CreditEvent).where(CreditEvent.firm_id == firm.id)).one() == 1
    assert client.get("/admin/announcements/queue/register", query_string={"key": key}).status_code == 404


def test_bad_uploads_are_refused_and_change_nothing(client, auth, tx, engine):
    with tx() as s:
        ensure_default_ruleset(s)
    auth.login_as("recorder")
    unknown = upload(client, csv_bytes(["企业", "结果"], [["甲", "合格"]]))
    assert unknown.status_code == 422 and "无法识别的表头" in unknown.get_data(as_text=True)
    future = upload(client, rows_file(), published_on="2027-01-01")
    assert future.status_code == 422 and "晚于今天" in future.get_data(as_text=True)
    tampered = post_form(client, "/admin/announcements/import", {"payload": "not base64!"})
    assert tampered.status_code == 302
    assert count(engine, Announcement) == 0 and count(engine, CreditEvent) == 0
    unknown_firm = post_form(
        client, "/admin/announcements/queue/confirm", {"name_key": "x", "firm": "914403001922038216"}
    )
    assert unknown_firm.status_code == 302


def test_mappings_are_saved_by_name_and_offered_on_upload(client, auth, tx):
    with tx() as s:
        ensure_default_ruleset(s)
    auth.login_as("recorder")
    refused = post_form(client, "/admin/announcements/mappings", {"name": "月报", "col_producer": "企业"})
    assert refused.status_code == 422 and "判定" in refused.get_data(as_text=True)
    saved = post_form(
        client,
        "/admin/announcements/mappings",
        {
            "name": "月报",
            "col_producer": "企业",
            "col_product": "样品",
            "col_outcome": "结论",
            "col_publisher": "机关",
            "col_published_on": "日期",
        },
    )
    assert saved.status_code == 302
    assert '<option value="月报">月报</option>' in client.get("/admin/announcements").get_data(as_text=True)
    data = csv_bytes(
        ["企业", "样品", "结论", "机关", "日期"], [["东莞市甲公司", "月饼", "合格", "东莞市局", "2026-09-01"]]
    )
    preview = upload(client, data, mapping="月报")
    assert preview.status_code == 200 and "未匹配" in preview.get_data(as_text=True)


def test_reviewers_see_announcements_but_cannot_upload(client, auth, tx):
    with tx() as s:
        ensure_default_ruleset(s)
    auth.login_as("reviewer")
    assert client.get("/admin/announcements").status_code == 200
    assert upload(client, rows_file()).status_code == 403
