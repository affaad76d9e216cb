"""The checker's page (/check), printable receipts, and the admin's check log and its CSV export."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from credit.models import CreditCheck
from tests.conftest import post_form
from tests.test_api_checks import UNKNOWN, count_checks, firms  # noqa: F401  (fixture)

RECEIPT_RE = re.compile(r"/check/receipts/(HC\d{8}[0-9A-Z]{8})")


def test_checker_checks_a_list_and_prints_receipts(client, auth, engine, firms):  # noqa: F811
    auth.login_as("checker")
    page = client.get("/check")
    assert page.status_code == 200 and "信用核查" in page.get_data(as_text=True)
    lines = f"{firms['black']}\n\n  {firms['red']}  \nbad\n{UNKNOWN}\n"
    response = post_form(client, "/check", {"usccs": lines, "purpose": "procurement", "as_of": ""})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    receipts = RECEIPT_RE.findall(html)
    assert len(set(receipts)) == 2 and count_checks(engine) == 2
    assert "依法限制参与政府采购" in html and "长度" in html and "没有统一社会信用代码" in html
    with Session(engine) as s:
        logged = s.exec(select(CreditCheck).order_by(CreditCheck.id)).all()
    assert [c.channel for c in logged] == ["web", "web"] and {c.username for c in logged} == {"checker"}
    assert [c.uscc for c in logged] == [firms["black"], firms["red"]]

    receipt = client.get(f"/check/receipts/{receipts[0]}")
    text = receipt.get_data(as_text=True)
    assert receipt.status_code == 200
    assert receipts[0] in text and "checker" in text and "政府采购" in text and "规则集版本" in text


def test_checker_sees_only_own_receipts(client, auth, engine, firms, tx):  # noqa: F811
    from credit.services.check_log import log_check
    from credit.services.checks import check_firm
    from credit.services.firms import get_firm
    from tests.factories import make_user

    with tx() as s:
        other = make_user(s, username="other-checker", role="checker")
        theirs = log_check(s, check_firm(s, get_firm(s, firms["plain"]), purpose="permit"), channel="web", user=other)  # type: ignore[arg-type]
    auth.login_as("checker")
    assert client.get(f"/check/receipts/{theirs.receipt}").status_code == 403
    assert client.get("/check/receipts/HC20260101AAAAAAAA").status_code == 404
    auth.logout()
    auth.login_as("admin")
    assert client.get(f"/check/receipts/{theirs.receipt}").status_code == 200


def test_check_form_refuses_bad_input(client, auth, engine, firms):  # noqa: F811
    auth.login_as("checker")
    too_many = "\n".join([firms["plain"]] * 201)
    assert post_form(client, "/check", {"usccs": too_many, "purpose": "permit"}).status_code == 422
    assert post_form(client, "/check", {"usccs": firms["plain"], "purpose": "x"}).status_code == 422
    response = post_form(client, "/check", {"usccs": firms["plain"], "purpose": "permit", "as_of": "2026-02-30"})
    assert response.status_code == 422
    assert count_checks(engine) == 0


def test_admin_reads_filters_and_exports_the_log(client, auth, engine, firms, tx):  # noqa: F811
    from credit.services.check_log import log_check
    from credit.services.checks import check_firm
    from credit.services.firms import get_firm

    with tx() as s:
        for code, department in ((firms["plain"], "财政局"), (firms["red"], "住建局")):
            log_check(s, check_firm(s, get_firm(s, code), purpose="permit"), channel="api", department=department)  # type: ignore[arg-type]
    auth.login_as("admin")
    page = client.get("/admin/checks").get_data(as_text=True)
    assert "共 2 条" in page and "财政局" in page and "住建局" in page
    page = client.get("/admin/checks?who=财政局").get_data(as_text=True)
    assert "共 1 条" in page and firms["plain"] in page and firms["red"] not in page
    assert "共 1 条" in client.get(f"/admin/checks?uscc={firms['red']}").get_data(as_text=True)
    assert "共 0 条" in client.get("/admin/checks?from=2000-01-01&to=2000-01-02").get_data(as_text=True)
    export = client.get("/admin/checks.csv?who=住建局")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    body = export.data.decode("utf-8")
    assert body.startswith("\ufeffreceipt,checked_at")
    rows = body.strip().splitlines()
    assert len(rows) == 2 and firms["red"] in rows[1] and "住建局" in rows[1]
