"""The bureau's calendar: "today" is a date in China Standard Time, whatever the server's zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

BUREAU_TZ = ZoneInfo("Asia/Shanghai")


def today() -> date:
    """Today's date in the bureau's time zone."""
    return datetime.now(BUREAU_TZ).date()


def parse_iso_date(value: object, *, field: str = "日期") -> date:
    """A date written as ISO YYYY-MM-DD (or already a date); anything else is refused with a reason."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(f"{field}须为 YYYY-MM-DD 格式,实为「{text}」")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}「{text}」不是有效日期") from None
