"""Due process in the browser: the staff pages (entries, decision, waiver, notice, petitions) with their
role checks, and the public objection form with its offline anti-abuse measures and the status page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from credit.clock import today
from credit.models import Firm, Listing, Petition
from credit.services.users import get_user
from tests.conftest import AuthActions, csrf_token, post_form
from tests.factories import make_user
from tests.test_due_process import effective_event, objection, proposal_today, serve, staff


def petitions(engine) -> list[Petition]:
    with Session(engine) as s:
        return list(s.exec(select(Petition).order_by(Petition.id)))


def listing_row(engine, listing_id: int) -> Listing:
    with Session(engine) as s:
        return s.get(Listing, listing_id)


@pytest.fixture
def proposal(tx):
    """A firm with an effective heavy penalty and the black-list proposal (dated today) it caused, its
    notice served today."""
    with tx() as s:
        staff(s)
        make_user(s, username="rev2", role="reviewer", display_name="赵审核")
        listing = serve(s, proposal_today(s, name="东莞市告知测试电器有限公司"), today())
        firm = s.get(Firm, listing.firm_id)
        return {"listing_id": listing.id, "uscc": firm.uscc, "deadline": listing.deadline}


# --- staff pages ------------------------------------------------------------------------------------------


def test_reviewer_sees_the_proposal_with_its_deadline_and_cannot_decide_early(client, auth, proposal, engine):
    auth.login("rev")
    page = client.get("/admin/listings").get_data(as_text=True)
    assert "东莞市告知测试电器有限公司" in page
    assert str(proposal["deadline"]) in page
    assert f"还剩 {(proposal['deadline'] - today()).days} 天" in page

    detail = client.get(f"/admin/listings/{proposal['listing_id']}").get_data(as_text=True)
    assert "东市监罚〔2026〕8号" in detail and "届满后方可决定" in detail
    response = post_form(
        client,
        f"/admin/listings/{proposal['listing_id']}/decide",
        {"decide-decision": "approve"},
        follow_redirects=True,
    )
    assert "届满后方可决定" in response.get_data(as_text=True)
    assert listing_row(engine, proposal["listing_id"]).status == "proposed"


def test_recorder_cannot_decide_but_records_a_waiver_then_the_reviewer_decides_at_once(
    app, client, auth, proposal, engine
):
    auth.login("rec")
    path = f"/admin/listings/{proposal['listing_id']}"
    assert post_form(client, f"{path}/decide", {"decide-decision": "approve"}).status_code == 403
    assert client.get("/admin/petitions").status_code == 403
    assert post_form(client, f"{path}/waive", {"waive-note": "企业提交书面声明,放弃陈述申辩"}).status_code == 302
    assert listing_row(engine, proposal["listing_id"]).waived
    assert "企业提交书面声明" in client.get(path).get_data(as_text=True)

    reviewer = app.test_client()
    AuthActions(reviewer, engine).login("rev")
    response = post_form(reviewer, f"{path}/decide", {"decide-decision": "approve", "decide-note": "材料属实"})
    assert response.status_code == 302
    entry = listing_row(engine, proposal["listing_id"])
    assert (entry.status, entry.listed_from, entry.decision_note) == ("listed", today(), "材料属实")
    assert "已列入" in reviewer.get(path).get_data(as_text=True)


def test_the_notice_shows_facts_basis_deadline_and_the_objection_form(client, auth, proposal):
    auth.login("rec")
    response = client.get(f"/admin/listings/{proposal['listing_id']}/notice")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in (
        "拟列入产品质量信用黑榜告知书",
        "东莞市告知测试电器有限公司",
        proposal["uscc"],
        "东市监罚〔2026〕8号",
        "东莞市市场监督管理局",
        "36 个月内受到从重行政处罚",
        "产品质量法",
        "期限 36 个月",
        "http://localhost/objections/new",
        str(proposal["deadline"]),
        'class="notice"',
        "/static/css/app.css",
    ):
        assert text in html, text
    # Its print layout (A4) lives in the stylesheet: the Content-Security-Policy allows no inline style.
    css = client.get("/static/css/app.css").get_data(as_text=True)
    assert "@media print" in css and "size: A4" in css


def test_notice_is_for_staff_only(client, auth, proposal):
    path = f"/admin/listings/{proposal['listing_id']}/notice"
    assert client.get(path).headers["Location"].startswith("/login")
    auth.login_as("checker")
    assert client.get(path).status_code == 403


def test_recorder_files_for_the_firm_and_the_reviewer_upholds_it(app, client, auth, proposal, engine):
    auth.login("rec")
    path = f"/admin/petitions/new?listing={proposal['listing_id']}"
    assert client.get(path).status_code == 200
    short = post_form(
        client, path, {"kind": "objection", "applicant_name": "张", "applicant_contact": "1", "statement": "短"}
    )
    assert short.status_code == 422 and "至少 10 个字" in short.get_data(as_text=True)
    response = post_form(
        client,
        path,
        {
            "kind": "objection",
            "applicant_name": "张经理(企业委托)",
            "applicant_contact": "0769-22000000",
            "statement": "处罚决定已被行政复议撤销,附复议决定书。",
        },
    )
    assert response.status_code == 302
    (petition,) = petitions(engine)
    assert (petition.filed_via, petition.kind, petition.listing_id) == ("recorder", "objection", proposal["listing_id"])
    with Session(engine) as s:
        assert petition.filed_by_id == get_user(s, "rec").id
    # the recorder cannot open the reviewer's decision page
    assert client.get(f"/admin/petitions/{petition.id}").status_code == 403
    assert post_form(client, f"/admin/petitions/{petition.id}/decide", {"decide-decision": "grant"}).status_code == 403

    listing_page = client.get("/admin/listings?kind=black").get_data(as_text=True)
    assert "条目异议中" in listing_page

    reviewer = app.test_client()
    AuthActions(reviewer, engine).login("rev")
    queue = reviewer.get("/admin/petitions").get_data(as_text=True)
    assert petition.reference in queue and "待处理 1 件" in queue
    assert "0769-22000000" in reviewer.get(f"/admin/petitions/{petition.id}").get_data(as_text=True)
    no_reason = post_form(reviewer, f"/admin/petitions/{petition.id}/decide", {"decide-decision": "grant"})
    assert no_reason.status_code == 302 and petitions(engine)[0].status == "open"
    done = post_form(
        reviewer,
        f"/admin/petitions/{petition.id}/decide",
        {"decide-decision": "grant", "decide-reason": "复议决定已撤销处罚"},
        follow_redirects=True,
    )
    assert "异议成立" in done.get_data(as_text=True)
    assert petitions(engine)[0].status == "granted"
    entry = listing_row(engine, proposal["listing_id"])
    assert entry.status == "withdrawn" and petition.reference in entry.end_reason


# --- the public form ----------------------------------------------------------------------------------------

QUESTION = re.compile(r"(\d+) 加 (\d+) 等于几")
TOKEN = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')


def fill(client, **fields) -> dict:
    """Read the form as a browser shows it and fill it like a person: the question answered, the
    honeypot left empty."""
    html = client.get("/objections/new").get_data(as_text=True)
    a, b = map(int, QUESTION.search(html).groups())
    return {
        "csrf_token": csrf_token(client, "/objections/new"),
        "form_token": TOKEN.search(html).group(1),
        "answer": str(a + b),
        "website": "",
        "kind": "objection",
        "target": "black",
        "document_no": "",
        "applicant_name": "张经理",
        "applicant_contact": "13800000000",
        "statement": "处罚决定已被行政复议撤销,请不予列入。",
        **fields,
    }


@pytest.fixture
def quick(app):
    app.config["PETITION_MIN_SECONDS"] = 0
    return app


def test_public_objection_happy_path_and_status_by_reference(quick, client, proposal, engine):
    response = client.post("/objections/new", data=fill(client, uscc=proposal["uscc"]))
    assert response.status_code == 302, response.get_data(as_text=True)
    (petition,) = petitions(engine)
    assert response.headers["Location"] == f"/objections/{petition.reference}"
    assert (petition.filed_via, petition.listing_id, petition.status) == ("public", proposal["listing_id"], "open")
    assert re.fullmatch(r"[0-9a-f]{64}", petition.client_hash) and "127.0.0.1" not in petition.client_hash

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert petition.reference in page and "待处理" in page and "黑榜" in page
    assert "13800000000" not in page  # nothing of the applicant
    assert client.get(f"/objections/{petition.reference.lower()}").status_code == 200
    lookup = client.get("/objections/lookup", query_string={"reference": f" {petition.reference.lower()} "})
    assert lookup.headers["Location"] == f"/objections/{petition.reference}"


def test_public_objection_to_a_record_by_its_document_number(quick, client, proposal, engine):
    bad = client.post(
        "/objections/new", data=fill(client, uscc=proposal["uscc"], target="record", document_no="无此文号")
    )
    assert bad.status_code == 422 and "未找到该企业文书号" in bad.get_data(as_text=True)
    response = client.post(
        "/objections/new", data=fill(client, uscc=proposal["uscc"], target="record", document_no="东市监罚〔2026〕8号")
    )
    assert response.status_code == 302
    (petition,) = petitions(engine)
    assert petition.event_id is not None and petition.listing_id is None


def test_decided_petition_shows_the_decision_reason(quick, client, tx, proposal, engine):
    client.post("/objections/new", data=fill(client, uscc=proposal["uscc"]))
    (petition,) = petitions(engine)
    from credit.services.due_process import decide_petition

    with tx() as s:
        decide_petition(
            s, s.get(Petition, petition.id), get_user(s, "rev"), grant=False, reason="处罚决定合法有效", on=today()
        )
    page = client.get(f"/objections/{petition.reference}").get_data(as_text=True)
    assert "异议不成立" in page and "处罚决定合法有效" in page


def test_unknown_reference_is_404(client):
    assert client.get("/objections/26-ABCDEFGH").status_code == 404


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"website": "http://spam.example"}, 400, "提交未被受理"),
        ({"answer": "99"}, 422, "答案不正确"),
        ({"answer": "seven"}, 422, "阿拉伯数字"),
        ({"form_token": "forged"}, 422, "验证信息无效"),
        ({"uscc": "914403001922038217"}, 422, "校验"),
        ({"uscc": "914403001922038216"}, 422, "未登记"),
        ({"target": "red"}, 422, "没有拟列入或已列入的相应榜单条目"),
        ({"kind": "repair"}, 422, "已列入黑榜"),
        ({"statement": "太短"}, 422, "至少 10 个字"),
    ],
)
def test_public_form_refusals_write_nothing(quick, client, proposal, engine, change, status, message):
    response = client.post("/objections/new", data=fill(client, **{"uscc": proposal["uscc"], **change}))
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert petitions(engine) == []


def test_public_form_needs_a_minimum_fill_time(app, client, proposal, engine):
    app.config["PETITION_MIN_SECONDS"] = 60
    response = client.post("/objections/new", data=fill(client, uscc=proposal["uscc"]))
    assert response.status_code == 422 and "提交过快" in response.get_data(as_text=True)
    assert petitions(engine) == []


def test_public_form_without_csrf_is_refused(quick, client, proposal, engine):
    data = fill(client, uscc=proposal["uscc"])
    del data["csrf_token"]
    assert client.post("/objections/new", data=data).status_code == 400
    assert petitions(engine) == []


def test_public_filings_beyond_the_daily_limit_are_refused(quick, client, tx, engine):
    with tx() as s:
        firm_id = proposal_today(s).firm_id
        firm = s.get(Firm, firm_id)
        docs = [
            effective_event(s, firm, "interview", today() - timedelta(days=i + 1), f"约谈-{i}").document_no
            for i in range(6)
        ]
        uscc = firm.uscc
    for doc in docs[:5]:
        response = client.post("/objections/new", data=fill(client, uscc=uscc, target="record", document_no=doc))
        assert response.status_code == 302
    response = client.post("/objections/new", data=fill(client, uscc=uscc, target="record", document_no=docs[5]))
    assert response.status_code == 429 and "每天最多在线提交 5 件" in response.get_data(as_text=True)
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Petition)).one() == 5


def test_a_firm_page_flag_source_names_the_listing_under_objection(tx, proposal, engine):
    from credit.services.due_process import under_objection

    with tx() as s:
        objection(s, listing=s.get(Listing, proposal["listing_id"]))
    with Session(engine) as s:
        events, listings = under_objection(s, listing_row(engine, proposal["listing_id"]).firm_id)
    assert (events, listings) == (set(), {proposal["listing_id"]})
