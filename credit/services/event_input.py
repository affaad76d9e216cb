"""Validation of a credit event as submitted by a form, an import row or the API: the same rules for all.

`parse_event` checks what can be checked without the database (types, formats, per-type requirements)
and returns every problem with the field it concerns."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from credit.catalog import EVENT_TYPES, SEVERITY_LABELS
from credit.clock import parse_iso_date, today
from credit.text import ControlCharacter, normalise_code, refuse_control_characters
from credit.uscc import UsccError, validate_uscc

EARLIEST = date(1990, 1, 1)  # no credit record predates the 1993 Product Quality Law by much

# Column order of the import file (SPEC §4) followed by the optional columns some types need.
EVENT_FIELDS = (
    "uscc",
    "event_type",
    "occurred_on",
    "document_no",
    "authority",
    "severity",
    "amount",
    "product",
    "valid_until",
    "description",
    "person_name",
    "certificate_no",
    "rectifies_document_no",
)
# Codes that make up a natural key or are compared: NFKC-normalised at every entry (issue 11 #5).
CODE_FIELDS = frozenset({"document_no", "rectifies_document_no", "certificate_no"})
LIMITS = {
    "document_no": 100,
    "authority": 200,
    "product": 200,
    "description": 4000,
    "person_name": 50,
    "certificate_no": 100,
}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass(frozen=True)
class EventInput:
    """A well-formed event, not yet checked against the database (firm, duplicates, linked failure)."""

    uscc: str
    event_type: str
    occurred_on: date
    document_no: str
    authority: str
    severity: str | None = None
    amount: Decimal | None = None
    product: str = ""
    valid_until: date | None = None
    description: str = ""
    person_name: str = ""
    certificate_no: str = ""
    rectifies_document_no: str = ""


def _text(raw: dict, name: str) -> str:
    value = raw.get(name)
    return "" if value is None else " ".join(str(value).split()) if name != "description" else str(value).strip()


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"金额「{text}」不是数字") from None
    if not value.is_finite():
        raise ValueError(f"金额「{text}」不是数字")
    if value < 0:
        raise ValueError("金额不能为负数")
    if value >= Decimal("1e14"):  # before quantize: a huge value has no room for two decimals and would raise
        raise ValueError("金额过大")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("金额最多两位小数(单位:元)")
    return value.quantize(Decimal("0.01"))


def parse_event(
    raw: dict, *, as_of: date | None = None, pilot_codes: Container[str] = ()
) -> tuple[EventInput | None, list[FieldError]]:
    """Check one submitted event; returns it when valid, else every problem found (field, message). A
    USCC in `pilot_codes` (recorded legal pilot codes) may fail a check character."""
    errors: list[FieldError] = []
    now = as_of or today()
    values = {name: _text(raw, name) for name in EVENT_FIELDS}
    for name, value in values.items():
        try:
            refuse_control_characters(value, prose=name == "description")
        except ControlCharacter as exc:
            errors.append(FieldError(name, str(exc)))
        else:
            if name in CODE_FIELDS:
                values[name] = normalise_code(value)

    try:
        values["uscc"] = validate_uscc(values["uscc"], pilot_codes=pilot_codes)
    except UsccError as exc:
        errors.append(FieldError("uscc", exc.message))

    event_type = EVENT_TYPES.get(values["event_type"])
    if event_type is None:
        errors.append(FieldError("event_type", f"未知事件类型「{values['event_type']}」"))

    parsed: dict[str, object] = {}
    for name, label in (("occurred_on", "发生日期"), ("valid_until", "有效期至")):
        if not values[name]:
            parsed[name] = None
            continue
        try:
            parsed[name] = parse_iso_date(values[name], field=label)
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
    occurred_on = parsed.get("occurred_on")
    if "occurred_on" in parsed:
        if occurred_on is None:
            errors.append(FieldError("occurred_on", "缺少发生日期"))
        elif occurred_on > now:
            errors.append(FieldError("occurred_on", f"发生日期 {occurred_on} 晚于今天 {now}"))
        elif occurred_on < EARLIEST:
            errors.append(FieldError("occurred_on", f"发生日期 {occurred_on} 早于 {EARLIEST}"))

    for name in ("document_no", "authority"):
        if not values[name]:
            errors.append(FieldError(name, "文书号不能为空" if name == "document_no" else "作出机关不能为空"))
    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            errors.append(FieldError(name, f"不能超过 {limit} 个字符"))

    amount = None
    if values["amount"]:
        try:
            amount = _amount(values["amount"])
        except ValueError as exc:
            errors.append(FieldError("amount", str(exc)))

    severity = values["severity"] or None
    valid_until = parsed.get("valid_until")
    if event_type is not None:
        if event_type.severities:
            if severity is None:
                options = "、".join(f"{s}({SEVERITY_LABELS[s]})" for s in event_type.severities)
                errors.append(FieldError("severity", f"{event_type.label}须注明严重程度:{options}"))
            elif severity not in event_type.severities:
                errors.append(
                    FieldError("severity", f"{event_type.label}的严重程度只能是 {'、'.join(event_type.severities)}")
                )
        elif severity is not None:
            errors.append(FieldError("severity", f"{event_type.label}不分严重程度,请留空"))
        if event_type.needs_valid_until:
            if valid_until is None and "valid_until" not in {e.field for e in errors}:
                errors.append(FieldError("valid_until", f"{event_type.label}须填写有效期至"))
            elif valid_until is not None and isinstance(occurred_on, date) and valid_until <= occurred_on:
                errors.append(FieldError("valid_until", "有效期至须晚于发生日期"))
        elif valid_until is not None:
            errors.append(FieldError("valid_until", f"{event_type.label}没有有效期,请留空"))
        if event_type.needs_person:
            if not values["person_name"]:
                errors.append(FieldError("person_name", "须填写首席质量官姓名"))
            if not values["certificate_no"]:
                errors.append(FieldError("certificate_no", "须填写首席质量官培训证书编号"))
        if values["rectifies_document_no"] and not event_type.closes_failure:
            errors.append(FieldError("rectifies_document_no", "只有整改复查合格事件可关联不合格记录"))

    if errors:
        return None, errors
    return (
        EventInput(
            uscc=values["uscc"],
            event_type=values["event_type"],
            occurred_on=occurred_on,  # type: ignore[arg-type]
            document_no=values["document_no"],
            authority=values["authority"],
            severity=severity,
            amount=amount,
            product=values["product"],
            valid_until=valid_until,  # type: ignore[arg-type]
            description=values["description"],
            person_name=values["person_name"],
            certificate_no=values["certificate_no"],
            rectifies_document_no=values["rectifies_document_no"],
        ),
        [],
    )
