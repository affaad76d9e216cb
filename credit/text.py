"""Text as it enters the system, the same at every entry (form, import, API): no control characters, and
codes compared the way people read them. Pure standard library."""

from __future__ import annotations

import unicodedata

# Line breaks and tabs are text in a description; every other control character (NUL, ESC, …) is not.
_ALLOWED_IN_PROSE = frozenset("\t\n\r")


class ControlCharacter(ValueError):
    """A value holds a control character (NUL and the like): refused, never stored."""


def refuse_control_characters(value: str, *, prose: bool = False) -> str:
    """`value` unchanged, or ControlCharacter naming the first control character and its position."""
    for position, char in enumerate(value, start=1):
        if unicodedata.category(char) == "Cc" and not (prose and char in _ALLOWED_IN_PROSE):
            raise ControlCharacter(f"第 {position} 个字符是控制字符 U+{ord(char):04X}，不能保存")
    return value


def normalise_code(value: str) -> str:
    """A document number or certificate number as people read it: NFKC (full-width ＦＷ－２０２６－１ is
    FW-2026-1), inner whitespace single, none around. Two spellings of one code are one natural key."""
    return " ".join(unicodedata.normalize("NFKC", value).split())
