"""Total, lenient value coercions for attribute values decoded from the wire (any type, any content).

The sink's peer translators and its normaliser read values that another program wrote: a count may arrive as
an int, a float or a string, a flag as a bool or `"true"`, a structure as a JSON string. Each function here has one
meaning, documented on it, and is total: odd input gives `None`, never an exception.

- `text`: a non-empty string, else `None` (an empty string says nothing).
- `integer`: an exact integer (an int, an integral float, a decimal string), never a bool.
- `number`: an int or a float as given, or parsed from a short string (the normaliser's counts and costs).
- `real`: a finite float from `number`.
- `flag`: a bool, or `true/false/1/0` in any case.
- `json_value`: a JSON string decoded, a structure as it is.
- `strings`: a list of strings from a sequence, a JSON array string, or one string.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

__all__ = ["flag", "integer", "json_value", "number", "real", "strings", "text"]

_NUMBER_CHARS: Final = 64
"""Strings longer than this are not read as numbers (no number a span carries is that long)."""
_INTEGER_DIGITS: Final = 20


def text(value: Any) -> str | None:
    """`value` if it is a non-empty string, else `None`."""
    return value if isinstance(value, str) and value else None


def integer(value: Any) -> int | None:
    """An exact integer: an int, a float without a fractional part, or a string of decimal digits; not a bool."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        stripped = value.strip()
        digits = stripped[1:] if stripped[:1] == "-" else stripped
        if digits.isascii() and digits.isdigit() and len(digits) < _INTEGER_DIGITS:
            return int(stripped)
    return None


def number(value: Any) -> float | int | None:
    """An int or a float as it is, or a short string parsed as an int, else as a float; not a bool."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and len(value) < _NUMBER_CHARS:
        stripped = value.strip()
        try:
            return int(stripped)
        except ValueError:
            try:
                return float(stripped)
            except ValueError:
                return None
    return None


def real(value: Any) -> float | None:
    """A finite float from `number` (NaN, infinities and integers too large for a float give `None`)."""
    found = number(value)
    if found is None:
        return None
    try:
        converted = float(found)
    except OverflowError:
        return None
    return converted if math.isfinite(converted) else None


def flag(value: Any) -> bool | None:
    """A bool as it is; the strings `true`/`1` and `false`/`0` (any case, surrounding space ignored)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in {"true", "1"}:
            return True
        if word in {"false", "0"}:
            return False
    return None


def json_value(value: Any) -> Any:
    """A JSON string (an array, an object or a string) decoded, a list, tuple or dict as it is, anything else
    `None`."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in {"[", "{", '"'}:
            try:
                return json.loads(stripped)
            except ValueError:
                return None
        return None
    if isinstance(value, (list, tuple, dict)):
        return value
    return None


def strings(value: Any) -> list[str] | None:
    """The strings of a sequence or of a JSON array string, or a single non-empty string as a list; `None` when
    there are none."""
    if isinstance(value, str):
        decoded = json_value(value) if value.lstrip().startswith("[") else None
        if isinstance(decoded, list):
            value = decoded
        else:
            return [value] if value else None
    if isinstance(value, (list, tuple)):
        items = [item for item in value if isinstance(item, str)]
        return items or None
    return None
