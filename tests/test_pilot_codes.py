"""Legal pilot codes (试点代码) that fail the GB 32100 check character, e.g. Xiamen's `91350211M0000XUF46`:
refused until an admin records an exception (code, reason, document basis; audited, after a confirmation),
accepted everywhere after it, and the firm flagged on the staff and public pages and in the check answer."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from credit.db import session_scope
from credit.models import Actor, AuditEntry, CreditEvent, Firm, PilotCode
from credit.services.pilot_codes import PilotCodeError, record_pilot_code, validate_code
from credit.services.rulesets import ensure_default_ruleset
from credit.uscc import UsccError, validate_uscc
from tests.conftest import post_form
from tests.factories import firm_row, make_user
from tests.test_api_events import bearer, issue_key

XIAMEN = "91350211M0000XUF46"
OTHER_PILOT = "91350211M0000XUF47"  # the same shape, not recorded
BASIS = "厦门市市场监督管理局 厦市监函〔2026〕12号"


def count(engine, model, *where) -> int:
    with session_scope(engine, Actor.system("test")) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def firm_file(tmp_path, code: str = XIAMEN):
    row = firm_row(uscc=code, name="厦门试点代码科技有限公司")
    path = tmp_path / "firms.csv"
    path.write_text(",".join(row) + "\n" + ",".join(row[k] for k in row) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def admin_client(client, auth):
    auth.login_as("admin")
    return client


def record_through_the_page(client, code: str = XIAMEN, **fields):
    data = {"code": code, "reason": "试点期间发放的代码，校验位早于国家标准", "document_basis": BASIS, **fields}
    return post_form(client, "/admin/pilot-codes", data)


def test_the_code_really_fails_the_check_character():
    with pytest.raises(UsccError) as caught:
        validate_uscc(XIAMEN)
    assert caught.value.rule == "check_char"
    assert validate_uscc(XIAMEN, pilot_codes={XIAMEN}) == XIAMEN
    with pytest.raises(UsccError):  # an exception covers the check characters only
        validate_uscc("ER350211M0000XUF46", pilot_codes={"ER350211M0000XUF46"})


def test_refused_without_the_exception(runner, engine, tmp_path, admin_client):
    result = runner.invoke(args=["credit", "import-firms", str(firm_file(tmp_path))])
    assert result.exit_code != 0 and "第18位应为" in result.output and "管理员先登记例外" in result.output
    form = {**firm_row(uscc=XIAMEN, name="厦门试点代码科技有限公司")}
    response = post_form(admin_client, "/admin/firms/new", form)
    assert response.status_code == 422 and "管理员先登记例外" in response.get_data(as_text=True)
    assert count(engine, Firm) == 0


def test_an_admin_records_it_after_a_confirmation_and_it_is_audited(admin_client, engine):
    first = record_through_the_page(admin_client)
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and "第18位应为" in html and "确认登记" in html
    assert count(engine, PilotCode) == 0  # nothing until confirmed
    done = record_through_the_page(admin_client, confirmed="yes")
    assert done.status_code == 302
    with session_scope(engine, Actor.system("test")) as s:
        entry = s.exec(select(PilotCode)).one()
        assert (entry.code, entry.failed_rule, entry.document_basis) == (XIAMEN, "check_char", BASIS)
        audit = s.exec(select(AuditEntry).where(AuditEntry.entity == "pilot_code")).one()
        assert audit.action == "create" and audit.actor == "admin" and audit.after["code"] == XIAMEN
    page = admin_client.get("/admin/pilot-codes").get_data(as_text=True)
    assert XIAMEN in page and BASIS in page
    assert record_through_the_page(admin_client, confirmed="yes").status_code == 422  # once per code
    assert count(engine, PilotCode) == 1


@pytest.mark.parametrize(
    ("code", "fields", "says"),
    [
        ("914403001922038216", {}, "无须登记例外"),  # valid already
        ("ER350211M0000XUF46", {}, "只有校验位不符"),  # fails another rule
        ("91350211M0000XUF4", {}, "18"),  # too short
        (XIAMEN, {"reason": ""}, ""),
        (XIAMEN, {"document_basis": ""}, ""),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(admin_client, engine, code, fields, says):
    response = record_through_the_page(admin_client, code, confirmed="yes", **fields)
    assert response.status_code == 422
    assert says in response.get_data(as_text=True)
    assert count(engine, PilotCode) == 0


def test_a_recorder_cannot_record_one(client, auth, engine, tx):
    auth.login_as("recorder")
    assert client.get("/admin/pilot-codes").status_code == 403
    assert record_through_the_page(client, confirmed="yes").status_code == 403
    with tx() as s:
        recorder = make_user(s, role="recorder")
        with pytest.raises(PilotCodeError, match="不是管理员"):
            record_pilot_code(s, code=XIAMEN, reason="r", document_basis="b", admin=recorder)
    assert count(engine, PilotCode) == 0


def test_the_cli_records_and_lists_and_refuses_a_non_admin(runner, tx, engine):
    with tx() as s:
        make_user(s, username="root", role="admin")
        make_user(s, username="lu", role="recorder")
    refused = runner.invoke(args=["credit", "pilot-code", "add", XIAMEN, "--reason", "r", "--basis", "b", "--by", "lu"])
    assert refused.exit_code != 0 and count(engine, PilotCode) == 0
    added = runner.invoke(
        args=["credit", "pilot-code", "add", XIAMEN, "--reason", "试点代码", "--basis", BASIS, "--by", "root"]
    )
    assert added.exit_code == 0, added.output
    assert XIAMEN in runner.invoke(args=["credit", "pilot-code", "list"]).output
    assert count(engine, AuditEntry, AuditEntry.entity == "pilot_code") == 1


def test_accepted_everywhere_after_it_and_flagged(runner, tx, engine, tmp_path, client, auth):
    with tx() as s:
        ensure_default_ruleset(s)
        root = make_user(s, username="root", role="admin")
        record_pilot_code(s, code=XIAMEN, reason="试点代码", document_basis=BASIS, admin=root)
    imported = runner.invoke(args=["credit", "import-firms", str(firm_file(tmp_path))])
    assert imported.exit_code == 0, imported.output
    assert count(engine, Firm, Firm.uscc == XIAMEN) == 1
    # another code of the same shape is still refused
    other = runner.invoke(args=["credit", "import-firms", str(firm_file(tmp_path, OTHER_PILOT))])
    assert other.exit_code != 0

    # events for it: by the form
    auth.login_as("recorder")
    event = {
        "uscc": XIAMEN,
        "event_type": "spot_check_pass",
        "occurred_on": "2026-10-10",
        "document_no": "抽-试点-1",
        "authority": "厦门市市场监督管理局",
    }
    assert post_form(client, "/admin/events/new", event).status_code == 302
    assert count(engine, CreditEvent) == 1

    # flagged on the staff page and the public page
    staff = client.get(f"/admin/firms/{XIAMEN}").get_data(as_text=True)
    assert "试点代码" in staff and BASIS in staff
    public = client.get(f"/firms/{XIAMEN}").get_data(as_text=True)
    assert "试点代码" in public and "pilot-code" in public
    assert "pilot-code" not in client.get("/firms/914403001922038216").get_data(as_text=True)

    # the check answer carries the optional flag; an unrecorded code of the same shape is a 422
    token = issue_key(tx, scopes="check")
    answer = client.get(f"/api/v1/credit/{XIAMEN}", query_string={"purpose": "permit"}, headers=bearer(token))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["pilot_code"] is True
    refused = client.get(f"/api/v1/credit/{OTHER_PILOT}", query_string={"purpose": "permit"}, headers=bearer(token))
    assert refused.status_code == 422
    cli = runner.invoke(args=["credit", "check", XIAMEN, "--json"])
    assert cli.exit_code == 0 and '"pilot_code": true' in cli.output

    with session_scope(engine, Actor.system("test")) as s:
        assert validate_code(s, XIAMEN) == XIAMEN
        with pytest.raises(UsccError, match="管理员先登记例外"):
            validate_code(s, OTHER_PILOT)


def test_a_valid_code_has_no_flag_in_the_answer(tx, client):
    with tx() as s:
        ensure_default_ruleset(s)
        from tests.factories import make_firm

        firm = make_firm(s)
    token = issue_key(tx, scopes="check")
    answer = client.get(f"/api/v1/credit/{firm.uscc}", query_string={"purpose": "permit"}, headers=bearer(token))
    assert answer.status_code == 200 and "pilot_code" not in answer.get_json()
