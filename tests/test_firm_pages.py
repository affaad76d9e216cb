"""The firm register in the browser: list, search, filters, pagination, detail, add and edit."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from credit.models import Firm
from tests.conftest import post_form
from tests.factories import firm_row, make_firm


def firm_count(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Firm)).one()


@pytest.fixture
def firms(tx):
    with tx() as s:
        return [
            make_firm(s, name="东莞市南城精密五金有限公司", region="南城街道", industry="C33"),
            make_firm(s, name="东莞市虎门服饰有限公司", region="虎门镇", industry="C18"),
            make_firm(s, name="东莞市长安电子科技有限公司", region="长安镇", industry="C39"),
            make_firm(s, name="东莞市长安商贸有限公司", region="长安镇", industry="F51"),
        ]


def names(response) -> list[str]:
    html = response.get_data(as_text=True)
    return [name for name in ("南城精密五金", "虎门服饰", "长安电子科技", "长安商贸") if name in html]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["南城精密五金", "虎门服饰", "长安电子科技", "长安商贸"]),
        ({"q": "长安"}, ["长安电子科技", "长安商贸"]),
        ({"region": "虎门镇"}, ["虎门服饰"]),
        ({"industry": "C"}, ["南城精密五金", "虎门服饰", "长安电子科技"]),
        ({"q": "长安", "industry": "F"}, ["长安商贸"]),
        ({"q": "不存在的企业"}, []),
    ],
)
def test_search_and_filters(client, auth, firms, query, expected):
    auth.login_as("reviewer")
    assert names(client.get("/admin/firms", query_string=query)) == expected


def test_search_by_uscc_and_prefix(client, auth, firms):
    auth.login_as("reviewer")
    uscc = firms[1].uscc
    assert names(client.get("/admin/firms", query_string={"q": uscc})) == ["虎门服饰"]
    assert names(client.get("/admin/firms", query_string={"q": uscc.lower()})) == ["虎门服饰"]


def test_pagination(client, auth, tx, app):
    app.config["FIRMS_PER_PAGE"] = 3
    with tx() as s:
        for _ in range(7):
            make_firm(s)
    auth.login_as("admin")
    first = client.get("/admin/firms").get_data(as_text=True)
    assert "共 7 家" in first and "第 1 / 3 页" in first and 'rel="next"' in first and 'rel="prev"' not in first
    last = client.get("/admin/firms?page=3").get_data(as_text=True)
    assert last.count('href="/admin/firms/9') == 1  # one firm on the last page
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert client.get("/admin/firms?page=abc").status_code == 200


def test_detail_shows_the_registered_facts(client, auth, firms):
    auth.login_as("recorder")
    firm = firms[2]
    html = client.get(f"/admin/firms/{firm.uscc}").get_data(as_text=True)
    for value in (
        firm.name,
        firm.uscc,
        firm.legal_representative,
        firm.address,
        "长安镇",
        "计算机、通信和其他电子设备制造业",
    ):
        assert value in html


def test_unknown_firm_is_404(client, auth):
    auth.login_as("admin")
    assert client.get("/admin/firms/914403001922038216").status_code == 404


def test_recorder_registers_a_firm(client, auth, engine):
    auth.login_as("recorder")
    row = firm_row(name="东莞市新登记塑胶制品有限公司")
    response = post_form(client, "/admin/firms/new", row)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/firms/{row['uscc']}"
    with Session(engine) as s:
        firm = s.exec(select(Firm).where(Firm.uscc == row["uscc"])).one()
    assert firm.name == "东莞市新登记塑胶制品有限公司"
    assert firm.industry == row["industry"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"uscc": "914403001922038217"}, "校验码"),
        ({"uscc": "91440300192203821"}, "18"),
        ({"uscc": "91440300I922038216"}, "I"),
        ({"name": ""}, "该字段是必填字段"),
        ({"region": "北京市"}, "不是有效的选择"),
        ({"industry": "F39"}, "不是有效的选择"),
        ({"scale": "大型"}, "不是有效的选择"),
    ],
)
def test_bad_firm_is_refused_with_a_reason(client, auth, engine, override, message):
    auth.login_as("admin")
    response = post_form(client, "/admin/firms/new", firm_row(**override))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert firm_count(engine) == 0


def test_duplicate_uscc_is_refused(client, auth, firms, engine):
    auth.login_as("admin")
    response = post_form(client, "/admin/firms/new", firm_row(uscc=firms[0].uscc))
    assert response.status_code == 422
    assert "已登记" in response.get_data(as_text=True)
    assert firm_count(engine) == 4


def test_edit_changes_details_but_never_the_uscc(client, auth, firms, engine):
    auth.login_as("recorder")
    firm = firms[0]
    row = {**firm.model_dump(), "uscc": "914403001922038216", "address": "东莞市南城街道鸿福路99号"}
    response = post_form(client, f"/admin/firms/{firm.uscc}/edit", row)
    assert response.status_code == 302
    with Session(engine) as s:
        stored = s.get(Firm, firm.id)
    assert stored.uscc == firm.uscc
    assert stored.address == "东莞市南城街道鸿福路99号"
    history = client.get(f"/admin/firms/{firm.uscc}").get_data(as_text=True)
    assert "东莞市南城街道鸿福路99号" in history and "recorder" in history
