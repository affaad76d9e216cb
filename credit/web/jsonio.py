"""JSON in and out of the app: Chinese kept readable on the way out; on the way in, a body nested deeper
than any of our documents, or holding text that is not Unicode (a lone surrogate such as `"\\ud800"`), is
refused as invalid JSON — a 400, never a crash further down (issue 11 #10)."""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32  # our deepest request body is two levels; 32 leaves room and stops a stack of brackets


def _check(value: Any) -> None:
    """Walk the parsed value without recursion: depth and well-formed text."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")  # UnicodeEncodeError (a ValueError) for a lone surrogate
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
            children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
            for key, child in children:
                if key is not None:
                    key.encode("utf-8")
                stack.append((child, depth + 1))


class SafeJSONProvider(DefaultJSONProvider):
    ensure_ascii = False  # Chinese stays readable in JSON

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        _check(value)
        return value
