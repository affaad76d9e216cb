"""Validation of a credit event before it meets the database (SPEC §2 credit events, the catalogue table).

`parse_event` is pure: every test here is a table of raw submissions, the date they are judged on, and the
fields the answer must blame. No database, no Flask."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from credit.catalog import EVENT_TYPES
from credit.services.event_input import EARLIEST, LIMITS, EventInput, FieldError, parse_event
from credit.uscc import RULES, UsccError, validate_uscc

AS_OF = date(2026, 6, 30)
USCC = "914403001922038216"

# What each type needs beyond the common fields, and nothing more: the smallest valid record.
EXTRAS: dict[str, dict[str, str]] = {
    "spot_check_fail": {"severity": "general"},
    "penalty": {"severity": "heavy"},
    "famous_brand": {"valid_until": "2029-01-01"},
    "certification": {"valid_until": "2027-05-01"},
    "cqo_appointed": {"person_name": "张三", "certificate_no": "ZLG-2026-0001"},
    "cqo_left": {"person_name": "张三", "certificate_no": "ZLG-2026-0001"},
}
SPEC_CODES = {
    "spot_check_pass",
    "spot_check_fail",
    "rectified",
    "spot_check_refused",
    "penalty",
    "serious_dishonesty",
    "recall_voluntary",
    "recall_ordered",
    "complaint_substantiated",
    "interview",
    "false_test_data",
    "award_national",
    "award_provincial",
    "award_municipal",
    "famous_brand",
    "certification",
    "standard_leadership",
    "cqo_appointed",
    "cqo_left",
    "credit_report",
    "excellence_model",
}
ALL_TYPES = sorted(EVENT_TYPES)
WITH_SEVERITY = sorted(code for code, t in EVENT_TYPES.items() if t.severities)
WITHOUT_SEVERITY = sorted(code for code, t in EVENT_TYPES.items() if not t.severities)
WITH_VALIDITY = sorted(code for code, t in EVENT_TYPES.items() if t.needs_valid_until)
WITHOUT_VALIDITY = sorted(code for code, t in EVENT_TYPES.items() if not t.needs_valid_until)
WITH_PERSON = sorted(code for code, t in EVENT_TYPES.items() if t.needs_person)
NOT_RECTIFIED = sorted(code for code, t in EVENT_TYPES.items() if not t.closes_failure)


def raw(event_type: str = "spot_check_pass", **overrides: Any) -> dict[str, Any]:
    """A minimal valid submission of `event_type`, with `overrides` applied."""
    return {
        "uscc": USCC,
        "event_type": event_type,
        "occurred_on": "2026-03-15",
        "document_no": "东市监抽〔2026〕15号",
        "authority": "东莞市市场监督管理局",
        **EXTRAS.get(event_type, {}),
        **overrides,
    }


def check(submission: dict[str, Any], as_of: date = AS_OF) -> tuple[EventInput | None, dict[str, list[str]]]:
    """Parse and return the event and the messages per field (the two never both present)."""
    event, errors = parse_event(submission, as_of=as_of)
    assert (event is None) == bool(errors), (event, errors)
    assert all(isinstance(e, FieldError) and e.message for e in errors)
    by_field: dict[str, list[str]] = {}
    for error in errors:
        by_field.setdefault(error.field, []).append(error.message)
    return event, by_field


def refused(submission: dict[str, Any], as_of: date = AS_OF) -> dict[str, list[str]]:
    event, errors = check(submission, as_of)
    assert event is None, f"expected a refusal of {submission}"
    return errors


def accepted(submission: dict[str, Any], as_of: date = AS_OF) -> EventInput:
    event, errors = check(submission, as_of)
    assert event is not None, errors
    return event


# --- the catalogue ---------------------------------------------------------------------------------------


def test_catalogue_holds_exactly_the_spec_types():
    assert set(EVENT_TYPES) == SPEC_CODES
    assert all(t.code == code and t.label for code, t in EVENT_TYPES.items())


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_every_type_accepts_a_minimal_record(event_type):
    event = accepted(raw(event_type))
    assert event.event_type == event_type
    assert event.uscc == USCC
    assert event.occurred_on == date(2026, 3, 15)
    assert event.document_no == "东市监抽〔2026〕15号"
    assert event.authority == "东莞市市场监督管理局"
    assert event.amount is None
    assert event.severity == EXTRAS.get(event_type, {}).get("severity")


def test_a_full_record_comes_back_typed_and_tidied():
    event = accepted(
        raw(
            "penalty",
            uscc="  91310110666007217T ",
            severity="general",
            amount="12,345.6",
            document_no="  东市监罚〔2026〕  7号 ",
            authority="东莞市\t市场监督管理局",
            product=" 电热水壶 ",
            description="  第一行\n第二行  ",
        )
    )
    assert event.uscc == "91310110666007217T"
    assert event.amount == Decimal("12345.60")
    assert event.document_no == "东市监罚〔2026〕 7号"  # inner runs of whitespace collapse to one space
    assert event.authority == "东莞市 市场监督管理局"
    assert event.product == "电热水壶"
    assert event.description == "第一行\n第二行"  # a description keeps its line breaks


def test_a_date_object_is_as_good_as_its_iso_text():
    assert accepted(raw(occurred_on=date(2026, 3, 15))).occurred_on == date(2026, 3, 15)


# --- severity --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "severity"),
    [("spot_check_fail", "general"), ("spot_check_fail", "serious"), ("penalty", "general"), ("penalty", "heavy")],
)
def test_severity_accepted(event_type, severity):
    assert accepted(raw(event_type, severity=severity)).severity == severity


@pytest.mark.parametrize("event_type", WITH_SEVERITY)
@pytest.mark.parametrize("severity", ["", "   ", None])
def test_severity_required(event_type, severity):
    errors = refused(raw(event_type, severity=severity))
    assert list(errors) == ["severity"]
    for option in EVENT_TYPES[event_type].severities:
        assert option in errors["severity"][0]  # the message lists what is allowed


@pytest.mark.parametrize(
    ("event_type", "severity"),
    [
        ("spot_check_fail", "heavy"),  # heavy belongs to penalties
        ("penalty", "serious"),  # serious belongs to spot checks
        ("penalty", "GENERAL"),
        ("spot_check_fail", "severe"),
        ("spot_check_fail", "严重"),  # labels are mapped by the importer, not here
    ],
)
def test_severity_restricted_per_type(event_type, severity):
    assert list(refused(raw(event_type, severity=severity))) == ["severity"]


@pytest.mark.parametrize("event_type", WITHOUT_SEVERITY)
def test_severity_refused_on_types_without_one(event_type):
    errors = refused(raw(event_type, severity="general"))
    assert list(errors) == ["severity"]
    assert "请留空" in errors["severity"][0]


# --- valid_until -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", WITH_VALIDITY)
def test_valid_until_required(event_type):
    errors = refused(raw(event_type, valid_until=""))
    assert list(errors) == ["valid_until"]


@pytest.mark.parametrize("event_type", WITH_VALIDITY)
@pytest.mark.parametrize(
    ("valid_until", "ok"),
    [("2026-03-14", False), ("2026-03-15", False), ("2026-03-16", True), ("2031-03-15", True)],
)
def test_valid_until_after_occurred_on(event_type, valid_until, ok):
    event, errors = check(raw(event_type, occurred_on="2026-03-15", valid_until=valid_until))
    if ok:
        assert event is not None and event.valid_until == date.fromisoformat(valid_until)
    else:
        assert list(errors) == ["valid_until"]


@pytest.mark.parametrize("event_type", WITH_VALIDITY)
def test_malformed_valid_until_is_reported_once(event_type):
    errors = refused(raw(event_type, valid_until="2027/01/01"))
    assert errors == {"valid_until": [errors["valid_until"][0]]}
    assert "YYYY-MM-DD" in errors["valid_until"][0]


@pytest.mark.parametrize("event_type", WITHOUT_VALIDITY)
def test_valid_until_refused_on_other_types(event_type):
    errors = refused(raw(event_type, valid_until="2029-01-01"))
    assert list(errors) == ["valid_until"]


# --- 首席质量官 and the failure a rectification closes ---------------------------------------------------


@pytest.mark.parametrize("event_type", WITH_PERSON)
@pytest.mark.parametrize(
    ("missing", "fields"),
    [
        (("person_name",), ["person_name"]),
        (("certificate_no",), ["certificate_no"]),
        (("person_name", "certificate_no"), ["person_name", "certificate_no"]),
    ],
)
def test_cqo_needs_person_and_certificate(event_type, missing, fields):
    errors = refused(raw(event_type, **dict.fromkeys(missing, " ")))
    assert sorted(errors) == sorted(fields)


def test_cqo_record_keeps_person_and_certificate():
    event = accepted(raw("cqo_appointed", person_name=" 李 四 ", certificate_no="ZLG-1"))
    assert (event.person_name, event.certificate_no) == ("李 四", "ZLG-1")


def test_rectified_may_name_the_failure():
    event = accepted(raw("rectified", rectifies_document_no="东市监抽〔2026〕3号"))
    assert event.rectifies_document_no == "东市监抽〔2026〕3号"


@pytest.mark.parametrize("event_type", NOT_RECTIFIED)
def test_only_rectified_may_name_a_failure(event_type):
    errors = refused(raw(event_type, rectifies_document_no="东市监抽〔2026〕3号"))
    assert list(errors) == ["rectifies_document_no"]


# --- amounts ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", Decimal("0.00")),
        ("5000", Decimal("5000.00")),
        ("0.5", Decimal("0.50")),
        ("12.30", Decimal("12.30")),
        ("1,000.50", Decimal("1000.50")),
        ("1,234,567.89", Decimal("1234567.89")),
        (" 88 ", Decimal("88.00")),
        ("99999999999999.99", Decimal("99999999999999.99")),
        ("", None),
        (None, None),
    ],
)
def test_amount_accepted(text, value):
    event = accepted(raw("penalty", amount=text))
    assert event.amount == value
    if value is not None:
        assert event.amount.as_tuple().exponent == -2  # stored as yuan and fen


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("abc", "不是数字"),
        ("12元", "不是数字"),
        ("1.2.3", "不是数字"),
        ("NaN", "不是数字"),
        ("nan", "不是数字"),
        ("sNaN", "不是数字"),
        ("Infinity", "不是数字"),
        ("-Infinity", "不是数字"),
        ("inf", "不是数字"),
        ("-1", "负数"),
        ("-0.01", "负数"),
        ("1.001", "两位小数"),
        ("0.005", "两位小数"),
        ("100000000000000", "过大"),
        ("1e30", "过大"),  # once raised decimal.InvalidOperation instead of a reason
        ("9" * 40, "过大"),
    ],
)
def test_amount_refused(text, reason):
    errors = refused(raw("penalty", amount=text))
    assert list(errors) == ["amount"]
    assert reason in errors["amount"][0]


# --- dates -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026/01/01",
        "20260101",
        "2026-13-01",
        "2026-02-30",
        "2026-1-1",
        "26-01-01",
        "2026-01-01T00:00",
        "昨天",
        "x" * 10,
    ],
)
def test_occurred_on_must_be_an_iso_date(text):
    errors = refused(raw(occurred_on=text))
    assert list(errors) == ["occurred_on"]
    assert len(errors["occurred_on"]) == 1


@pytest.mark.parametrize("text", ["", "   ", None])
def test_occurred_on_required(text):
    errors = refused(raw(occurred_on=text))
    assert list(errors) == ["occurred_on"]
    assert "缺少发生日期" in errors["occurred_on"][0]


@pytest.mark.parametrize(
    ("occurred_on", "ok"),
    [
        (AS_OF.isoformat(), True),
        ("2026-07-01", False),  # the day after as_of
        ("2030-01-01", False),
        (EARLIEST.isoformat(), True),
        ("1989-12-31", False),
        ("1900-01-01", False),
    ],
)
def test_occurred_on_between_1990_and_as_of(occurred_on, ok):
    event, errors = check(raw(occurred_on=occurred_on))
    if ok:
        assert event is not None
    else:
        assert list(errors) == ["occurred_on"]


def test_as_of_decides_what_is_in_the_future():
    submission = raw(occurred_on="2026-07-01")
    assert refused(submission, as_of=date(2026, 6, 30))
    assert accepted(submission, as_of=date(2026, 7, 1)).occurred_on == date(2026, 7, 1)


# --- required texts and their lengths --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["document_no", "authority"])
@pytest.mark.parametrize("value", ["", "  \t ", None])
def test_document_no_and_authority_required(name, value):
    errors = refused(raw(**{name: value}))
    assert list(errors) == [name]
    assert "不能为空" in errors[name][0]


@pytest.mark.parametrize(("name", "limit"), sorted(LIMITS.items()))
def test_length_limits(name, limit):
    event_type = "cqo_appointed" if name in ("person_name", "certificate_no") else "spot_check_pass"
    assert accepted(raw(event_type, **{name: "长" * limit}))
    errors = refused(raw(event_type, **{name: "长" * (limit + 1)}))
    assert list(errors) == [name]
    assert str(limit) in errors[name][0]


# --- USCC and type ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uscc", "rule"),
    [
        ("", "length"),
        ("91440300192203821", "length"),
        ("9144030019220382160", "length"),
        ("91310110666007217t", "charset"),
        ("9144030019220382I6", "charset"),
        ("91440300192203821６", "charset"),
        ("9144AB001922038216", "division"),
        ("914403001922038226", "org_check"),
        ("914403001922038217", "check_char"),
    ],
)
def test_bad_uscc_names_the_rule(uscc, rule):
    with pytest.raises(UsccError) as caught:
        validate_uscc(uscc)
    assert caught.value.rule == rule
    errors = refused(raw(uscc=uscc))
    assert errors == {"uscc": [caught.value.message]}
    assert "统一社会信用代码" in errors["uscc"][0]
    assert RULES[rule]  # a rule the module documents


@pytest.mark.parametrize("uscc", ["914403001922038216", "91310110666007217T", "91350100M000100Y43"])
def test_spec_examples_of_uscc_are_accepted(uscc):
    assert accepted(raw(uscc=uscc)).uscc == uscc


@pytest.mark.parametrize("event_type", ["", "spot_check", "SPOT_CHECK_PASS", "award", "监督抽查合格"])
def test_unknown_event_type(event_type):
    errors = refused(raw(event_type))
    assert list(errors) == ["event_type"]
    assert "未知事件类型" in errors["event_type"][0]


# --- many problems at once -------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once():
    errors = refused(
        {
            "uscc": "91440300192203821",
            "event_type": "no_such_type",
            "occurred_on": "2026/03/15",
            "document_no": "",
            "authority": " ",
            "amount": "abc",
            "product": "产" * 201,
        }
    )
    assert set(errors) == {"uscc", "event_type", "occurred_on", "document_no", "authority", "amount", "product"}


def test_every_rule_of_a_known_type_is_reported_at_once():
    errors = refused(
        raw(
            "famous_brand",
            severity="general",
            occurred_on="2027-01-01",
            valid_until="",
            amount="-5",
            rectifies_document_no="X-1",
            description="述" * 4001,
        )
    )
    assert set(errors) == {"severity", "occurred_on", "valid_until", "amount", "rectifies_document_no", "description"}


def test_cqo_with_everything_wrong():
    errors = refused(
        raw("cqo_left", person_name="", certificate_no="", severity="heavy", valid_until="2030-01-01", document_no="")
    )
    assert set(errors) == {"person_name", "certificate_no", "severity", "valid_until", "document_no"}


@pytest.mark.parametrize("field", ["document_no", "authority", "product", "description", "uscc"])
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f"])
def test_control_characters_are_refused_in_every_field(field, char):
    """Issue 11 #5: NUL bytes were stored."""
    base = raw("penalty", severity="general", amount="100")
    errors = refused({**base, field: str(base.get(field, "产品")) + char + "x"})
    assert any("控制字符" in message for message in errors[field]), errors


def test_a_description_keeps_its_line_breaks():
    event = accepted(raw(description="第一行\n第二行\t备注"))
    assert event.description == "第一行\n第二行\t备注"


@pytest.mark.parametrize(
    ("field", "typed", "stored"),
    [
        ("document_no", "ＦＷ－２０２６－１", "FW-2026-1"),
        ("document_no", "  东市监罚〔２０２６〕８号 ", "东市监罚〔2026〕8号"),
        ("document_no", "FW\u30002026", "FW 2026"),
    ],
)
def test_codes_are_normalised_as_people_read_them(field, typed, stored):
    assert getattr(accepted(raw(**{field: typed})), field) == stored
