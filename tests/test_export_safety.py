"""Every CSV and XLSX the system hands out is formula-safe (issue 11, failure 9): a firm or event field
`=HYPERLINK("http://x","y")` is never a formula in a checker's spreadsheet, and numbers stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from credit.clock import today
from credit.models import AnnouncementParty, Listing
from credit.services.announcements import import_announcement
from credit.services.check_log import log_check
from credit.services.checks import check_firm
from credit.services.name_queue import mark_outside
from credit.services.publications import publish_period
from credit.services.rulesets import ensure_default_ruleset
from credit.services.spreadsheet import FORMULA_TRIGGERS, csv_bytes, is_formula_like, safe_text, xlsx_bytes
from tests.factories import make_firm, make_user
from tests.test_announcements import PROVINCIAL, provincial
from tests.test_announcements import csv_bytes as announcement_csv
from tests.test_api_events import bearer, issue_key

HOSTILE = '=HYPERLINK("http://x","y")'
SAFE = "'" + HOSTILE


@pytest.fixture
def hostile(tx) -> dict[str, str]:
    """A firm named HOSTILE on the black list (in force over October, so in the 2026-10 publication), a
    logged check of it, and an out-of-jurisdiction announcement party whose product and referral note are
    HOSTILE. Returns the API token."""
    with tx() as s:
        ensure_default_ruleset(s)
        firm = make_firm(s, name=HOSTILE)
        s.add(
            Listing(
                firm_id=firm.id,  # type: ignore[arg-type]
                kind="black",
                status="listed",
                reason="36 个月内受到从重行政处罚",
                basis={"triggers": ["heavy_penalty"], "as_of": "2026-09-01", "rule_set_version": 1},
                rule_set_version=1,
                listed_from=today() - timedelta(days=80),
                listed_until=today() + timedelta(days=800),
            )
        )
        s.flush()
        log_check(s, check_firm(s, firm, purpose="permit"), channel="api", department="-住建局")
        publish_period(s, "2026-10", published_by="test")
        recorder = make_user(s, role="recorder")
        rows = [provincial(HOSTILE, "烟台外地豆业有限公司", "东莞市甲超市")]
        summary = import_announcement(s, announcement_csv(PROVINCIAL, rows), recorder=recorder, filename="a.csv")
        assert summary.ok, summary.errors
        key = s.exec(select(AnnouncementParty.name_key).where(AnnouncementParty.name == "烟台外地豆业有限公司")).first()
        assert key is not None
        mark_outside(s, key, recorder=recorder, note=HOSTILE)
    return {"token": issue_key(tx, scopes="check")}


# (path, the role that reads it or "api"/"public", the format)
EXPORTS = [
    ("/admin/checks.csv", "admin", "csv"),
    ("/api/v1/listings?format=csv", "api", "csv"),
    ("/publications/2026-10.csv", "public", "csv"),
    ("/publications/2026-10.xlsx", "public", "xlsx"),
    ("/admin/announcements/referrals.csv", "recorder", "csv"),
]


def cells_of(data: bytes, fmt: str) -> list[tuple[object, bool]]:
    """(value, formula?) of every cell: a CSV cell is a formula when a spreadsheet would run it; an XLSX
    cell when it is stored as one, or is text without the quote prefix that starts like one."""
    if fmt == "csv":
        return [(c, is_formula_like(c)) for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in row]
    book = load_workbook(io.BytesIO(data))
    found = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                text = isinstance(cell.value, str)
                runs = cell.data_type == "f" or (text and is_formula_like(cell.value) and not cell.quotePrefix)
                found.append((cell.value, runs))
    return found


@pytest.mark.parametrize(("path", "who", "fmt"), EXPORTS, ids=[e[0] for e in EXPORTS])
def test_hostile_text_is_never_a_formula_in_any_export(path, who, fmt, hostile, client, auth):
    headers = {}
    if who == "api":
        headers = bearer(hostile["token"])
    elif who != "public":
        auth.login_as(who)
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    cells = cells_of(response.data, fmt)
    assert [value for value, runs in cells if runs] == []
    values = [value for value, _ in cells]
    if fmt == "csv":
        assert SAFE in values and HOSTILE not in values
    else:  # XLSX: the text itself, as a quote-prefixed text cell
        assert HOSTILE in values


def test_the_check_log_quotes_a_department_that_starts_with_a_minus(hostile, client, auth):
    auth.login_as("admin")
    body = client.get("/admin/checks.csv").data.decode("utf-8-sig")
    assert "'-住建局" in body


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_import_templates_go_through_the_same_writer(fmt, client, auth):
    auth.login_as("recorder")
    response = client.get(f"/admin/imports/template.{fmt}")
    assert response.status_code == 200
    assert [value for value, runs in cells_of(response.data, fmt) if runs] == []


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_every_trigger_is_quoted(trigger):
    assert safe_text(trigger + "cmd|' /C calc'!A0") == "'" + trigger + "cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (-1250.5, "-1250.5"),
        (Decimal("-1250.50"), "-1250.50"),
        ("-1250.50", "-1250.50"),  # text that is wholly a number: no spreadsheet runs it
        ("+3", "+3"),
        (-7, "-7"),
        ("-1+2", "'-1+2"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("＝1+1", "'＝1+1"),
        ("东莞市-甲", "东莞市-甲"),
        (None, ""),
    ],
)
def test_numbers_stay_numbers_and_formulas_are_quoted(value, written):
    line = csv_bytes(None, [[value]], bom=False).decode()
    assert next(csv.reader(io.StringIO(line))) == [written]


def test_xlsx_numbers_stay_numbers_and_text_columns_stay_text():
    data = xlsx_bytes([("s", ["a", "b", "c"], [["914403001922038216", -12.5, HOSTILE]])], text_columns=frozenset({0}))
    sheet = load_workbook(io.BytesIO(data)).active
    code, amount, hostile = sheet[2]
    assert (code.value, code.data_type, code.number_format) == ("914403001922038216", "s", "@")
    assert (amount.value, amount.data_type) == (-12.5, "n")
    assert (hostile.value, hostile.data_type, hostile.quotePrefix) == (HOSTILE, "s", True)
