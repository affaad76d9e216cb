"""The public pages built for a city: firm search by the trigram index (keyset pages, bounded count,
literal wildcards, the index kept in step by triggers), the lists' change counter and ETags, the firm
page in three statements, publication downloads stored once and served with a strong ETag. Every
expectation is written out, so the suite run on SQLite and on PostgreSQL holds both to the same answers."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import event
from sqlmodel import select

from credit.clock import today
from credit.models import Firm, Listing, PublicationExport
from credit.services.firm_search import FirmQuery, search_firms
from credit.services.firms import update_firm
from credit.services.public import lists_version
from credit.services.rulesets import ensure_default_ruleset
from tests import test_public_pages, test_publications
from tests.factories import firm_row, make_firm
from tests.test_publications import make_listing, publish

world = test_public_pages.world  # fixture: the public site's small town
city = test_publications.city  # fixture: entries in force, or not, on 2026-10-31

NAMES = [
    "东莞市长安电子科技有限公司",
    "东莞市长安商贸有限公司",
    "东莞市虎门服饰有限公司",
    "东莞市南城精密五金有限公司",
    "东莞市ABC塑胶制品有限公司",
    "东莞市abc化工有限公司",
    "东莞市100%纯棉服饰有限公司",
    "东莞市下_划线科技有限公司",
    "东莞市长安五金有限公司",
    "东莞市长安电器有限公司",
    "东莞市长安物流有限公司",
    "东莞市常平电子有限公司",
]


@pytest.fixture
def register(session):
    firms = {name: make_firm(session, name=name) for name in NAMES}
    session.flush()
    return firms


def found(session, text, **kw) -> list[str]:
    return [f.name for f in search_firms(session, FirmQuery(text=text, **kw)).items]


def walk(session, text, **kw) -> list[str]:
    """Every page of a search, following the next links."""
    names, after = [], None
    for _ in range(100):
        page = search_firms(session, FirmQuery(text=text, after=after, **kw))
        names += [f.name for f in page.items]
        if page.next_after is None:
            return names
        after = page.next_after
    raise AssertionError("the pages never end")


def in_order(names) -> list[str]:
    return sorted(names)  # code-point order, as both databases sort (binary / "C")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("长安电", ["东莞市长安电器有限公司", "东莞市长安电子科技有限公司"]),
        ("安电子科", ["东莞市长安电子科技有限公司"]),
        ("服饰有限", ["东莞市100%纯棉服饰有限公司", "东莞市虎门服饰有限公司"]),
        ("abc", ["东莞市ABC塑胶制品有限公司", "东莞市abc化工有限公司"]),  # ASCII case ignored
        ("ABC塑", ["东莞市ABC塑胶制品有限公司"]),
        ("0%纯", ["东莞市100%纯棉服饰有限公司"]),  # % is a character, not a wildcard
        ("%纯棉", ["东莞市100%纯棉服饰有限公司"]),
        ("下_划", ["东莞市下_划线科技有限公司"]),
        ("_划线", ["东莞市下_划线科技有限公司"]),
        ("%%%", []),
        ("___", []),
        ('"长安"', []),  # quotes do not break the FTS5 phrase
        ("不存在的企业", []),
    ],
)
def test_substring_search_by_the_index(session, register, text, expected):
    assert found(session, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("%", ["东莞市100%纯棉服饰有限公司"]), ("_", ["东莞市下_划线科技有限公司"]), ("%%", []), ("\\", [])],
)
def test_wildcards_alone_match_only_themselves(session, register, text, expected):
    assert found(session, text) == expected  # `q=%` is not "everything"


def test_short_text_is_looked_for_inside_the_names(session, register):
    assert found(session, "长安") == in_order(n for n in NAMES if "长安" in n)
    assert found(session, "五金") == ["东莞市南城精密五金有限公司", "东莞市长安五金有限公司"]
    page = search_firms(session, FirmQuery(text="长安"))
    assert not page.partial and page.total == 5 and not page.capped


def test_short_text_walks_the_register_a_window_at_a_time(session, register):
    expected = in_order(n for n in NAMES if "长安" in n)
    first = search_firms(session, FirmQuery(text="长安", per_page=2, scan_window=3))
    assert first.partial and first.capped and first.next_after is not None
    assert walk(session, "长安", per_page=2, scan_window=3) == expected


def test_uscc_prefix_and_full_code(session, register):
    firm = register["东莞市虎门服饰有限公司"]
    assert found(session, firm.uscc) == ["东莞市虎门服饰有限公司"]
    assert found(session, firm.uscc.lower()) == ["东莞市虎门服饰有限公司"]
    prefix = firm.uscc[:10]
    expected = in_order(f.name for f in register.values() if f.uscc.startswith(prefix))
    assert found(session, prefix) == expected


@pytest.mark.parametrize("cap", [2, 1000])
def test_keyset_pages_give_every_match_once_in_order_few_or_many(session, register, cap):
    """cap 2: 'many' matches, the name index is walked; cap 1000: 'few', fetched by the trigram index."""
    expected = in_order(n for n in NAMES if "有限公司" in n)
    assert walk(session, "有限公司", per_page=3, count_cap=cap) == expected
    page = search_firms(session, FirmQuery(text="有限公司", per_page=3, count_cap=cap))
    assert (page.total, page.capped) == ((2, True) if cap == 2 else (len(NAMES), False))


def test_previous_pages_come_back_the_same(session, register):
    first = search_firms(session, FirmQuery(text="有限公司", per_page=4))
    second = search_firms(session, FirmQuery(text="有限公司", per_page=4, after=first.next_after, page=2))
    back = search_firms(session, FirmQuery(text="有限公司", per_page=4, before=second.prev_before, page=1))
    assert [f.id for f in back.items] == [f.id for f in first.items]
    assert back.prev_before is None and back.page == 1


def test_filters_with_text_and_alone(session, register):
    make_firm(session, name="东莞市长安另一电子有限公司", region="长安镇", industry="C39")
    assert found(session, "长安另", region="长安镇") == ["东莞市长安另一电子有限公司"]
    assert found(session, "长安另", region="虎门镇") == []
    firms = session.exec(select(Firm)).all()
    expected = in_order(f.name for f in firms if f.region == "长安镇" and f.industry.startswith("C3"))
    assert "东莞市长安另一电子有限公司" in expected
    assert found(session, "", region="长安镇", industry="C3") == expected
    assert walk(session, "", region="长安镇", industry="C3", per_page=1, count_cap=1) == expected


def test_the_index_follows_new_renamed_and_deleted_firms(session, register):
    firm = register["东莞市常平电子有限公司"]
    assert found(session, "常平电") == ["东莞市常平电子有限公司"]
    update_firm(session, firm, _create(firm, "东莞市横沥模具有限公司"))
    assert found(session, "常平电") == []
    assert found(session, "横沥模") == ["东莞市横沥模具有限公司"]
    session.delete(firm)
    session.flush()
    assert found(session, "横沥模") == []


def _create(firm: Firm, name: str):
    from credit.models import FirmCreate

    return FirmCreate.model_validate(firm_row(uscc=firm.uscc, name=name, region=firm.region, industry=firm.industry))


def test_search_pages_link_by_cursor(client, tx, app):
    with tx() as s:
        for i in range(25):
            make_firm(s, name=f"东莞市翻页测试{i:02d}号有限公司")
    first = client.get("/?q=翻页测试").get_data(as_text=True)
    assert "共 25 家" in first and 'rel="next"' in first and 'rel="prev"' not in first
    link = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "after=" in link
    second = client.get(link).get_data(as_text=True)
    assert "翻页测试20号" in second and "翻页测试00号" not in second and 'rel="prev"' in second
    app.config["SEARCH_COUNT_CAP"] = 10
    capped = client.get("/?q=翻页测试").get_data(as_text=True)
    assert "10+ 家" in capped and "第 1 页" in capped
    assert client.get("/?q=%25").status_code == 200 and "没有找到" in client.get("/?q=%25").get_data(as_text=True)
    assert client.get("/?q=翻页&after=abc").status_code == 200


# --- the lists' change counter and ETags ---------------------------------------------------------------


def test_the_counter_moves_with_listings_and_listed_particulars(tx, engine, session):
    from credit.db import new_session
    from credit.models import Actor

    def version() -> int:
        with new_session(engine, Actor.system("t")) as s:
            return lists_version(s)

    with tx() as s:
        ensure_default_ruleset(s)
        firm = make_firm(s, name="东莞市计数器测试有限公司")
    start = version()
    with tx() as s:
        make_listing(s, s.get(Firm, firm.id), "red", listed_from="2026-09-01", listed_until="2027-09-01")
    assert version() > start
    after_listing = version()
    with tx() as s:
        row = s.get(Firm, firm.id)
        row.address = "另一个地址"  # not shown on a list
        s.add(row)
    assert version() == after_listing
    with tx() as s:
        row = s.get(Firm, firm.id)
        row.name = "东莞市计数器改名有限公司"
        s.add(row)
    assert version() > after_listing
    renamed = version()
    with tx() as s:  # many listing rows in one transaction
        for listing in s.exec(select(Listing)).all():
            listing.reason = "改"
            s.add(listing)
        s.add(Listing(firm_id=firm.id, kind="black", status="proposed", reason="x", basis={}, rule_set_version=1))
    assert version() > renamed


def test_lists_answer_304_until_a_listing_changes(client, world, tx):
    first = client.get("/lists/black")
    tag = first.headers["ETag"]
    assert tag.startswith('W/"') and "private" in first.headers["Cache-Control"]
    again = client.get("/lists/black", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    with tx() as s:
        listing = s.exec(select(Listing).where(Listing.firm_id == world["black"].id, Listing.kind == "black")).one()
        listing.reason = "理由已更新的黑榜条目"
        s.add(listing)
    changed = client.get("/lists/black", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert "理由已更新的黑榜条目" in changed.get_data(as_text=True)
    home = client.get("/")
    assert client.get("/", headers={"If-None-Match": home.headers["ETag"]}).status_code == 304
    assert "ETag" not in client.get("/?q=公示").headers  # search results follow the register


def test_a_public_page_read_anonymously_opens_no_session_and_kept_pages_hold_no_token(app, world):
    from tests.conftest import CSRF_RE

    for path in ("/", "/lists/red", "/lists/black", f"/firms/{world['black'].uscc}", "/?q=公示"):
        visitor = app.test_client()
        page = visitor.get(path)
        assert page.status_code == 200, path
        assert "Set-Cookie" not in page.headers, path  # no session signed for a reader
        assert CSRF_RE.search(page.get_data(as_text=True)) is None, path
    # A page that posts still carries the visitor's own token, and a kept list page never does.
    one, two = app.test_client(), app.test_client()
    tokens = [CSRF_RE.search(c.get("/login").get_data(as_text=True)).group(1) for c in (one, two)]
    assert tokens[0] != tokens[1]
    assert CSRF_RE.search(one.get("/lists/red").get_data(as_text=True)) is None
    assert CSRF_RE.search(one.get("/objections/new").get_data(as_text=True))


def test_the_etag_follows_the_day_and_the_language(client, world):
    from credit import clock

    tag = client.get("/lists/red").headers["ETag"]
    client.get("/lang/en")
    english = client.get("/lists/red")
    assert english.headers["ETag"] != tag and "Red list" in english.get_data(as_text=True)
    clock.set_today((today() + timedelta(days=1)).isoformat())
    assert client.get("/lists/red").headers["ETag"] != english.headers["ETag"]


def test_staff_pages_are_not_validated(client, auth, world):
    auth.login_as("reviewer")
    assert "ETag" not in client.get("/lists/black").headers


# --- the firm page -----------------------------------------------------------------------------------


def test_firm_page_in_three_statements(app, client, world):
    statements: list[str] = []
    engine = app.extensions["credit.engine"]

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append(statement)

    path = f"/firms/{world['black'].uscc}"
    client.get(path)  # the first request of a process parses the rule set once
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.status_code == 200 and "文-1" in page.get_data(as_text=True)
    assert len(statements) <= 3, statements


# --- publication downloads ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_downloads_are_written_once_and_served_with_a_strong_etag(client, engine, tx, city, fmt):
    publish(engine)
    first = client.get(f"/publications/2026-10.{fmt}")
    assert first.status_code == 200
    tag = first.headers["ETag"]
    assert not tag.startswith("W/") and "max-age" in first.headers["Cache-Control"]
    with tx() as s:
        stored = s.exec(select(PublicationExport).where(PublicationExport.format == fmt)).one()
        written = stored.created_at
        assert stored.content == first.data and stored.size == len(first.data)
    second = client.get(f"/publications/2026-10.{fmt}")
    assert second.data == first.data and second.headers["ETag"] == tag
    assert client.get(f"/publications/2026-10.{fmt}", headers={"If-None-Match": tag}).status_code == 304
    with tx() as s:
        assert s.exec(select(PublicationExport.created_at).where(PublicationExport.format == fmt)).one() == written


def test_a_download_follows_an_entry_hidden_after_publication(client, engine, tx, city):
    publish(engine)
    before = client.get("/publications/2026-10.csv")
    assert "东莞市黑一化工有限公司" in before.get_data(as_text=True)
    with tx() as s:
        firm = s.exec(select(Firm).where(Firm.name == "东莞市黑一化工有限公司")).one()
        listing = s.exec(select(Listing).where(Listing.firm_id == firm.id, Listing.kind == "black")).one()
        listing.status, listing.end_code, listing.ended_on = "removed", "repair", today()
        s.add(listing)
    after = client.get("/publications/2026-10.csv", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert "东莞市黑一化工有限公司" not in after.get_data(as_text=True)
    page = client.get("/publications/2026-10")
    assert client.get("/publications/2026-10", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304


def test_the_workbook_is_written_row_by_row_and_stays_text(client, engine, tx, city):
    with tx() as s:
        firm = s.exec(select(Firm).where(Firm.name == "东莞市红一电器有限公司")).one()
        listing = s.exec(select(Listing).where(Listing.firm_id == firm.id)).one()
        listing.reason = '=HYPERLINK("http://x")'
        s.add(listing)
    publish(engine)
    book = load_workbook(io.BytesIO(client.get("/publications/2026-10.xlsx").data))
    assert book.sheetnames == ["说明", "红榜", "黑榜"]
    red = book["红榜"]
    rows = list(red.iter_rows(values_only=True))
    assert rows[0][2] == "统一社会信用代码(uscc)" and len(rows) == 1 + 3
    cells = {c.value: c for row in red.iter_rows(min_row=2) for c in row}
    assert cells['=HYPERLINK("http://x")'].data_type == "s"
    assert red.freeze_panes == "A2"


def test_publishing_writes_the_downloads_at_once(runner, tx, city):
    result = runner.invoke(args=["credit", "publish", "--period", "2026-10"])
    assert result.exit_code == 0, result.output
    with tx() as s:
        stored = s.exec(select(PublicationExport.format, PublicationExport.size)).all()
    assert sorted(fmt for fmt, _ in stored) == ["csv", "json", "xlsx"] and all(size > 0 for _, size in stored)
