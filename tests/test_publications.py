"""Publications: periods, what a snapshot lists, idempotence, immutability, corrections, a crash half-way,
the public pages, the downloads, the Atom feed and the JSON API."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
from datetime import date, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, func, select

from credit.clock import today
from credit.models import AuditEntry, Listing, Publication, PublicationEntry
from credit.services.publications import (
    PublicationError,
    get_publication,
    period_bounds,
    period_of,
    publication_detail,
    publication_json,
    publish_correction,
    publish_period,
)
from credit.services.rulesets import ensure_default_ruleset
from tests.factories import make_firm

ROOT = Path(__file__).resolve().parents[1]
ATOM = "{http://www.w3.org/2005/Atom}"
AFTER = date(2026, 11, 22)  # "today" for the October 2026 publications below
D = date.fromisoformat


def make_listing(session: Session, firm, kind: str, status: str = "listed", **dates) -> Listing:
    """A list entry as the assessment and the reviewers would have left it."""
    black = kind == "black"
    listing = Listing(
        firm_id=firm.id,
        kind=kind,
        status=status,
        reason="36 个月内受到从重行政处罚" if black else "A 级守信企业,获有效质量奖",
        basis={"triggers": ["heavy_penalty"], "as_of": "2026-05-01", "rule_set_version": 1}
        if black
        else {"criteria": ["red_eligible"], "as_of": "2026-05-01", "rule_set_version": 1},
        rule_set_version=1,
        **{name: D(value) if name not in ("end_reason", "end_code") else value for name, value in dates.items()},
    )
    session.add(listing)
    session.flush()
    return listing


@pytest.fixture
def city(tx) -> dict[str, str]:
    """Firms whose entries were, or were not, in force on 2026-10-31; returns name -> USCC."""
    with tx() as s:
        ensure_default_ruleset(s)
        firms = {
            name: make_firm(s, name=name, region=region)
            for name, region in [
                ("东莞市红一电器有限公司", "南城街道"),
                ("东莞市红二五金有限公司", "东城街道"),
                ("东莞市红三后移出有限公司", "东城街道"),
                ("东莞市黑一化工有限公司", "石龙镇"),
                ("东莞市黑二先移出有限公司", "石碣镇"),
                ("东莞市黑三撤回有限公司", "石碣镇"),
                ("东莞市黑四拟列入有限公司", "石碣镇"),
                ("东莞市黑五后列入有限公司", "石碣镇"),
                ("东莞市黑六期满有限公司", "石碣镇"),
                ("东莞市黑七撤销有限公司", "石碣镇"),
            ]
        }
        f = firms
        make_listing(s, f["东莞市红一电器有限公司"], "red", listed_from="2026-09-01", listed_until="2027-09-01")
        make_listing(s, f["东莞市红二五金有限公司"], "red", listed_from="2026-03-01", listed_until="2027-03-01")
        # removed after the snapshot date: it was in force on it
        make_listing(
            s,
            f["东莞市红三后移出有限公司"],
            "red",
            "removed",
            listed_from="2026-05-01",
            listed_until="2027-05-01",
            ended_on="2026-11-10",
            end_code="negative_event",
            end_reason="负面记录生效,移出红榜",
        )
        make_listing(
            s,
            f["东莞市黑一化工有限公司"],
            "black",
            proposed_on="2026-05-01",
            listed_from="2026-06-01",
            listed_until="2029-06-01",
            decided_on="2026-06-01",
        )
        # removed before the snapshot date (credit repair): not in force on it
        make_listing(
            s,
            f["东莞市黑二先移出有限公司"],
            "black",
            "removed",
            listed_from="2025-01-01",
            listed_until="2028-01-01",
            ended_on="2026-10-15",
            end_code="repair",
            end_reason="信用修复,提前移出",
        )
        # a proposal withdrawn (objection upheld): never listed
        make_listing(
            s, f["东莞市黑三撤回有限公司"], "black", "withdrawn", proposed_on="2026-10-01", ended_on="2026-10-20"
        )
        # still a proposal on the snapshot date: never published
        make_listing(s, f["东莞市黑四拟列入有限公司"], "black", "proposed", proposed_on="2026-10-05")
        make_listing(s, f["东莞市黑五后列入有限公司"], "black", listed_from="2026-11-05", listed_until="2029-11-05")
        # the term's first day out of force is the snapshot date itself
        make_listing(
            s,
            f["东莞市黑六期满有限公司"],
            "black",
            "removed",
            listed_from="2023-10-31",
            listed_until="2026-10-31",
            ended_on="2026-10-31",
            end_code="expired",
            end_reason="期满移出",
        )
        # its triggering record was revoked after the snapshot: the listing rested on nothing
        make_listing(
            s,
            f["东莞市黑七撤销有限公司"],
            "black",
            "removed",
            listed_from="2026-02-01",
            listed_until="2029-02-01",
            ended_on="2026-11-05",
            end_code="basis_revoked",
            end_reason="据以列入的记录已撤销:事件 #7",
        )
        return {name: firm.uscc for name, firm in firms.items()}


def count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def publish(engine, period: str = "2026-10", **kw) -> Publication:
    from credit.db import session_scope
    from tests.conftest import TESTER

    with session_scope(engine, TESTER) as s:
        return publish_period(s, period, published_by="tester", today=kw.pop("today", AFTER), **kw).publication


# --- periods ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("2026-11", "2026-11-01", "2026-11-30"),
        ("2026-02", "2026-02-01", "2026-02-28"),
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2026-12", "2026-12-01", "2026-12-31"),
        ("2026-Q1", "2026-01-01", "2026-03-31"),
        ("2026-Q4", "2026-10-01", "2026-12-31"),
    ],
)
def test_period_bounds(period, start, end):
    assert period_bounds(period) == (D(start), D(end))


@pytest.mark.parametrize(
    "period", ["2026-13", "2026-00", "2026-1", "202611", "2026-Q5", "2026-Q0", "2026-11-01", "２０２６-11", ""]
)
def test_malformed_periods_are_refused_with_the_rule(period):
    with pytest.raises(ValueError, match="YYYY-MM"):
        period_bounds(period)


def test_period_of():
    assert period_of(D("2026-11-22"), "monthly") == "2026-11"
    assert period_of(D("2026-11-22"), "quarterly") == "2026-Q4"
    assert period_of(D("2026-03-31"), "quarterly") == "2026-Q1"


# --- what a publication lists -----------------------------------------------------------------------


def test_publication_lists_the_entries_in_force_on_the_snapshot_date(session, city):
    result = publish_period(session, "2026-10", published_by="tester", today=AFTER)
    assert result.created
    pub = result.publication
    assert (pub.number, pub.period, pub.snapshot_date) == ("2026-10", "2026-10", D("2026-10-31"))
    assert (pub.period_start, pub.period_end, pub.rule_set_version) == (D("2026-10-01"), D("2026-10-31"), 1)
    detail = publication_detail(session, pub)
    # red and black, each by region then name (东城街道 < 南城街道 by code point)
    assert [e.name for e in detail.red] == [
        "东莞市红三后移出有限公司",
        "东莞市红二五金有限公司",
        "东莞市红一电器有限公司",
    ]
    assert [e.name for e in detail.black] == ["东莞市黑一化工有限公司"]
    assert [e.position for e in detail.red] == [1, 2, 3] and detail.black[0].position == 1
    assert (pub.red_count, pub.black_count) == (3, 1)
    black = detail.black[0]
    assert black.uscc == city["东莞市黑一化工有限公司"] and black.region == "石龙镇"
    assert black.reason == "36 个月内受到从重行政处罚"
    assert "36 个月内受到从重行政处罚" in black.basis and "规则集 v1" in black.basis
    assert "决定列入日 2026-06-01" in black.basis
    assert "符合红榜条件" in detail.red[0].basis
    assert (black.listed_from, black.listed_until) == (D("2026-06-01"), D("2029-06-01"))
    audit = session.exec(select(AuditEntry).where(AuditEntry.action == "publish")).one()
    assert audit.entity_id == "2026-10" and audit.after["red_count"] == 3


def test_as_of_takes_the_snapshot_on_another_day_of_the_period(session, city):
    pub = publish_period(session, "2026-10", as_of=D("2026-10-12"), published_by="tester", today=AFTER).publication
    assert pub.snapshot_date == D("2026-10-12")
    names = {e.name for e in publication_detail(session, pub, public=False).black}
    # removed on the 15th, and the one whose term ran out on the 31st, were still in force on the 12th
    # (the stored publication keeps the repaired entry; the public no longer sees it)
    assert names == {"东莞市黑一化工有限公司", "东莞市黑二先移出有限公司", "东莞市黑六期满有限公司"}


def test_an_empty_period_is_published_with_empty_lists(session):
    ensure_default_ruleset(session)
    pub = publish_period(session, "2026-Q3", published_by="tester", today=AFTER).publication
    assert (pub.number, pub.snapshot_date, pub.red_count, pub.black_count) == ("2026-Q3", D("2026-09-30"), 0, 0)


def test_publishing_twice_gives_one_publication(engine, city):
    first = publish(engine)
    from credit.db import session_scope
    from tests.conftest import TESTER

    with session_scope(engine, TESTER) as s:
        again = publish_period(s, "2026-10", published_by="tester", today=AFTER)
    assert not again.created and again.publication.id == first.id
    assert count(engine, Publication) == 1
    assert count(engine, PublicationEntry) == 4


@pytest.mark.parametrize(
    ("period", "as_of", "message"),
    [
        ("2026-11", None, "尚未结束"),
        ("2026-Q4", None, "尚未结束"),
        ("2026-10", D("2026-09-30"), "不在期次"),
        ("2026-10", D("2026-11-01"), "不在期次"),
        ("2026/10", None, "格式无效"),
    ],
)
def test_refusals(session, city, period, as_of, message):
    with pytest.raises(PublicationError, match=message):
        publish_period(session, period, as_of=as_of, published_by="tester", today=AFTER)
    assert session.exec(select(func.count()).select_from(Publication)).one() == 0


def test_a_period_ends_after_its_last_day(session, city):
    with pytest.raises(PublicationError, match="尚未结束"):
        publish_period(session, "2026-10", published_by="tester", today=D("2026-10-31"))
    assert publish_period(session, "2026-10", published_by="tester", today=D("2026-11-01")).created


def test_publications_are_immutable_in_the_database(engine, city):
    publish(engine)
    for statement in (
        "UPDATE publication SET red_count = 99",
        "DELETE FROM publication_entry",
        "UPDATE publication_entry SET name = 'x'",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert count(engine, PublicationEntry) == 4
    with Session(engine) as s:
        assert s.exec(select(Publication)).one().red_count == 3


def test_a_correction_names_the_publication_it_corrects(tx, engine, city):
    original = publish(engine)
    from credit.models import Firm

    with tx() as s:  # a firm's name was registered wrongly; the register is corrected afterwards
        firm = s.exec(select(Firm).where(Firm.name == "东莞市黑一化工有限公司")).one()
        firm.name = "东莞市黑一精细化工有限公司"
        s.add(firm)
    with tx() as s:
        first = publish_correction(s, "2026-10", "企业名称登记有误,予以更正", published_by="tester")
    assert (first.number, first.corrects_id, first.snapshot_date) == ("2026-10-R1", original.id, original.snapshot_date)
    assert first.correction_note == "企业名称登记有误,予以更正"
    with tx() as s:
        second = publish_correction(s, "2026-10-R1", "再次更正", published_by="tester")
        detail = publication_detail(s, second)
        assert [e.name for e in detail.black] == ["东莞市黑一精细化工有限公司"]
        assert detail.corrects == "2026-10-R1"
        old = publication_detail(s, get_publication(s, "2026-10"))
        assert [e.name for e in old.black] == ["东莞市黑一化工有限公司"]  # the original stays as published
        assert old.corrected_by == ["2026-10-R1"]
    assert second.number == "2026-10-R2"
    with tx() as s, pytest.raises(PublicationError, match="理由"):
        publish_correction(s, "2026-10", "  ", published_by="tester")
    with tx() as s, pytest.raises(PublicationError, match="没有编号"):
        publish_correction(s, "2025-01", "x", published_by="tester")


# --- command line -------------------------------------------------------------------------------------


def test_cli_publish_twice_gives_one_publication(runner, engine, city):
    first = runner.invoke(args=["credit", "publish", "--period", "2026-10"])
    assert first.exit_code == 0, first.output
    assert "已发布 2026-10" in first.output and "红榜 3 家,黑榜 1 家" in first.output
    second = runner.invoke(args=["credit", "publish", "--period", "2026-10"])
    assert second.exit_code == 0, second.output
    assert "已发布过" in second.output
    assert count(engine, Publication) == 1


def test_cli_refusals_are_one_line_and_change_nothing(runner, engine, city):
    current = period_of(today(), "monthly")
    cases = [
        (["--period", current], "尚未结束"),
        (["--period", "2026-10", "--as-of", "2026-11-03"], "不在期次"),
        (["--period", "2026-10", "--as-of", "2026-10-32"], "不是有效日期"),
        (["--period", "2026-1"], "格式无效"),
        ([], "--period"),
        (["--correct", "2026-10"], "理由"),
        (["--correct", "2026-10", "--note", "x", "--as-of", "2026-10-01"], "快照日"),
    ]
    for args, message in cases:
        result = runner.invoke(args=["credit", "publish", *args])
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert count(engine, Publication) == 0


def test_cli_correction(runner, engine, city):
    runner.invoke(args=["credit", "publish", "--period", "2026-10", "--as-of", "2026-10-20"])
    result = runner.invoke(args=["credit", "publish", "--correct", "2026-10", "--note", "快照数据有误"])
    assert result.exit_code == 0, result.output
    assert "已发布更正 2026-10-R1" in result.output
    with Session(engine) as s:
        correction = get_publication(s, "2026-10-R1")
        assert correction.snapshot_date == D("2026-10-20")
        assert correction.corrects_id == get_publication(s, "2026-10").id


# --- a crash half-way -------------------------------------------------------------------------------

CRASH_SCRIPT = """
import sys, time
from datetime import date
from sqlmodel import func, select
from credit.db import make_engine, new_session
from credit.models import Actor, PublicationEntry
from credit.services.publications import publish_period

engine = make_engine(sys.argv[1])
session = new_session(engine, Actor(label="crash-test", source="test"))
result = publish_period(session, "2026-10", published_by="crash-test", today=date(2026, 11, 22))
entries = session.exec(select(func.count()).select_from(PublicationEntry)).one()
print(result.created, entries, flush=True)
time.sleep(120)  # killed here, before the commit
"""


def test_a_crash_half_way_leaves_nothing(engine, db_url, city):
    process = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, db_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()  # the entries are written, the transaction still open
        assert line.split() == ["True", "4"], line + process.stderr.read()
    finally:
        process.kill()  # SIGKILL: no rollback, no clean-up, like a power cut
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
    assert count(engine, Publication) == 0
    assert count(engine, PublicationEntry) == 0
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "publish")).one() == 0
    assert publish(engine).red_count == 3  # nothing left locked either


# --- public pages and downloads -------------------------------------------------------------------------


@pytest.fixture
def published(engine, tx, city) -> dict[str, str]:
    publish(engine)
    with tx() as s:
        publish_correction(s, "2026-10", "依据文字有误", published_by="tester")
    publish(engine, "2026-09")
    return city


def test_publication_list_page(client, published):
    page = client.get("/publications")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert body.index("2026-10-R1") < body.index(">2026-10<") < body.index(">2026-09<")
    assert "更正 2026-10" in body
    assert "3 家" in body and "1 家" in body
    assert 'href="/feed.atom"' in body


def test_publication_page_shows_both_lists_with_reasons_basis_dates_and_age(client, published):
    page = client.get("/publications/2026-10")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    for name in ("东莞市红一电器有限公司", "东莞市红三后移出有限公司", "东莞市黑一化工有限公司"):
        assert name in body
    assert "东莞市黑二先移出有限公司" not in body and "东莞市黑四拟列入有限公司" not in body
    assert "36 个月内受到从重行政处罚" in body and "规则集 v1" in body
    assert "2026-06-01 – 2029-06-01" in body
    assert "4 个月" in body  # listed 2026-06-01, four whole months by 2026-10-31
    assert "不足 1 个月" not in body
    for fmt in ("csv", "xlsx", "json"):
        assert f'href="/publications/2026-10.{fmt}"' in body
    assert "2026-10-R1" in body  # "corrected by" notice
    correction = client.get("/publications/2026-10-R1").get_data(as_text=True)
    assert "依据文字有误" in correction and 'href="/publications/2026-10"' in correction


def test_one_list_at_a_time(client, published):
    body = client.get("/publications/2026-10?list=black").get_data(as_text=True)
    assert "东莞市黑一化工有限公司" in body and "东莞市红一电器有限公司" not in body


@pytest.mark.parametrize(
    "path", ["/publications/2025-01", "/publications/2025-01.csv", "/publications/2025-01.json", "/publications/x.txt"]
)
def test_unknown_publication_is_404(client, published, path):
    assert client.get(path).status_code == 404


def test_csv_download(client, published):
    response = client.get("/publications/2026-10.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="publication-2026-10.csv"')
    assert "filename*=UTF-8''" in disposition
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["榜单(list)", "序号(position)", "统一社会信用代码(uscc)"]
    assert [(r[0], r[3]) for r in rows[1:]] == [
        ("red", "东莞市红三后移出有限公司"),
        ("red", "东莞市红二五金有限公司"),
        ("red", "东莞市红一电器有限公司"),
        ("black", "东莞市黑一化工有限公司"),
    ]
    assert rows[4][2] == published["东莞市黑一化工有限公司"]


def test_xlsx_download(client, published):
    response = client.get("/publications/2026-10.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="publication-2026-10.xlsx"' in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.get_data()))
    assert book.sheetnames == ["说明", "红榜", "黑榜"]
    black = book["黑榜"]
    assert black["C1"].value == "统一社会信用代码(uscc)"
    cell = black["C2"]
    assert cell.value == published["东莞市黑一化工有限公司"] and isinstance(cell.value, str)
    assert cell.data_type == "s" and cell.number_format == "@"
    assert black["D2"].value == "东莞市黑一化工有限公司"
    assert [row[3] for row in book["红榜"].iter_rows(min_row=2, values_only=True)] == [
        "东莞市红三后移出有限公司",
        "东莞市红二五金有限公司",
        "东莞市红一电器有限公司",
    ]


def test_json_download_matches_the_api(client, published, engine):
    response = client.get("/publications/2026-10.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert 'filename="publication-2026-10.json"' in response.headers["Content-Disposition"]
    data = json.loads(response.get_data())
    assert data == client.get("/api/v1/publications/2026-10").get_json()
    with Session(engine) as s:
        assert data == publication_json(publication_detail(s, get_publication(s, "2026-10")))
    assert (data["number"], data["period"], data["snapshot_date"], data["rule_set_version"]) == (
        "2026-10",
        "2026-10",
        "2026-10-31",
        1,
    )
    assert data["corrects"] is None and data["corrected_by"] == ["2026-10-R1"]
    assert datetime.fromisoformat(data["published_at"]).tzinfo is not None
    assert [e["name"] for e in data["black"]] == ["东莞市黑一化工有限公司"]
    assert set(data["red"][0]) == {
        "position",
        "listing_id",
        "uscc",
        "name",
        "region",
        "industry",
        "reason",
        "basis",
        "listed_from",
        "listed_until",
    }
    assert data["black"][0]["listed_from"] == "2026-06-01" and data["black"][0]["listed_until"] == "2029-06-01"


# --- Atom --------------------------------------------------------------------------------------------


def test_atom_feed(client, published):
    response = client.get("/feed.atom")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(response.get_data())  # noqa: S314 - our own feed
    assert feed.tag == f"{ATOM}feed"

    def one(parent, name):
        found = parent.findall(f"{ATOM}{name}")
        assert len(found) == 1, name
        return found[0]

    def rfc3339(value: str) -> datetime:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        assert parsed.tzinfo is not None
        return parsed

    assert one(feed, "id").text.startswith("tag:")
    assert one(feed, "title").text
    updated = rfc3339(one(feed, "updated").text)
    assert one(one(feed, "author"), "name").text
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links["self"] == "http://localhost/feed.atom"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 3
    ids = [one(entry, "id").text for entry in entries]
    assert len(set(ids)) == 3 and all(i.startswith("tag:localhost,2026:publication/") for i in ids)
    for entry in entries:
        assert one(entry, "title").text
        assert rfc3339(one(entry, "updated").text) <= updated
        assert one(entry, "link").get("href").startswith("http://localhost/publications/")
    titles = [one(entry, "title").text for entry in entries]
    assert titles[0].startswith("质量信用红黑榜 2026-09")  # the newest published first
    assert any("更正 2026-10" in t for t in titles)
    summary = one(entries[-1], "summary").text
    assert "红榜 3 家" in summary and "黑榜 1 家" in summary


def test_atom_feed_without_publications_is_still_valid(client, engine):
    feed = ET.fromstring(client.get("/feed.atom").get_data())  # noqa: S314 - our own feed
    assert {child.tag for child in feed} >= {f"{ATOM}id", f"{ATOM}title", f"{ATOM}updated", f"{ATOM}link"}
    assert feed.findall(f"{ATOM}entry") == []


def test_names_are_escaped_in_the_feed_and_pages(client, engine, tx):
    with tx() as s:
        ensure_default_ruleset(s)
        firm = make_firm(s, name='东莞市<b>&amp"公司')
        make_listing(s, firm, "black", listed_from="2026-01-01", listed_until="2029-01-01")
    publish(engine)
    page = client.get("/publications/2026-10").get_data(as_text=True)
    assert "<b>&amp" not in page and "&lt;b&gt;" in page
    feed = ET.fromstring(client.get("/feed.atom").get_data())  # noqa: S314 - our own feed
    assert feed.find(f"{ATOM}entry/{ATOM}title").text == "质量信用红黑榜 2026-10"


# --- JSON API -------------------------------------------------------------------------------------------


def test_api_lists_publications_without_a_key(client, published):
    response = client.get("/api/v1/publications")
    assert response.status_code == 200
    items = response.get_json()["publications"]
    assert [(p["number"], p["corrects"]) for p in items] == [
        ("2026-10-R1", "2026-10"),
        ("2026-10", None),
        ("2026-09", None),
    ]
    assert set(items[0]) == {
        "number",
        "period",
        "snapshot_date",
        "published_at",
        "red_count",
        "black_count",
        "corrects",
        "withdrawn",
    }
    assert items[0]["withdrawn"] is None
    assert (items[1]["red_count"], items[1]["black_count"], items[1]["snapshot_date"]) == (3, 1, "2026-10-31")


def test_api_publication_and_404(client, published):
    body = client.get("/api/v1/publications/2026-10-R1").get_json()
    assert body["corrects"] == "2026-10" and body["correction_note"] == "依据文字有误"
    missing = client.get("/api/v1/publications/2030-01")
    assert missing.status_code == 404 and missing.is_json
    assert missing.get_json()["error"] == "not_found"


def test_api_publication_endpoints_are_documented(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    detail = document["paths"]["/publications/{number}"]["get"]
    assert detail["security"] == [] and {"200", "404"} <= set(detail["responses"])
    assert document["paths"]["/publications"]["get"]["security"] == []
    assert "Publication" in document["components"]["schemas"]


def test_api_body_matches_its_schema(client, published):
    from openapi_schema_validator import OAS30Validator, oas30_format_checker

    document = client.get("/api/v1/openapi.json").get_json()
    for name, path in (("PublicationList", "/api/v1/publications"), ("Publication", "/api/v1/publications/2026-10")):
        schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        OAS30Validator(schema, format_checker=oas30_format_checker).validate(client.get(path).get_json())


# --- two writers at once ------------------------------------------------------------------------------


def test_two_publish_commands_at_once_give_one_publication(engine, db_url, city, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DATABASE_URL=db_url, SECRET_KEY="test", CREDIT_INSTANCE_DIR=str(tmp_path / "instance"))
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "credit", "publish", "--period", "2026-10"]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    said = sorted("已发布过" in out for out, _err in outputs)
    assert said == [False, True, True], outputs
    assert count(engine, Publication) == 1
    assert count(engine, PublicationEntry) == 4


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL: row-level waits on the unique index")
def test_the_loser_of_a_race_rolls_back_to_its_savepoint_and_returns_the_winner(engine, city):
    """Without the writer lock the unique number still decides: the second INSERT waits for the first
    transaction, fails on the index, and the loser returns the winner's publication in a usable session."""
    from credit.db import new_session
    from credit.services.publications.snapshots import _snapshot
    from tests.conftest import TESTER

    winner_session = new_session(engine, TESTER)
    loser_session = new_session(engine, TESTER)
    snapshot = {"number": "2026-10", "period": "2026-10", "snapshot": D("2026-10-31"), "published_by": "tester"}
    try:
        won = _snapshot(winner_session, **snapshot)
        assert won.created
        result: dict = {}
        loser = threading.Thread(target=lambda: result.update(lost=_snapshot(loser_session, **snapshot)))
        loser.start()
        loser.join(timeout=1)
        assert loser.is_alive()  # waiting on the unique index for the winner's transaction
        winner_session.commit()
        loser.join(timeout=30)
        lost = result["lost"]
        assert not lost.created and lost.publication.id == won.publication.id
        assert loser_session.exec(select(func.count()).select_from(PublicationEntry)).one() == 4
        loser_session.commit()
    finally:
        winner_session.close()
        loser_session.close()
    assert count(engine, Publication) == 1
    assert count(engine, PublicationEntry) == 4
