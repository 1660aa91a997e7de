"""Values on their way into Postgres: coercion from decoded span attributes, text made storable, bounds.

Everything that reaches a row goes through here, whichever instrumentation wrote it, so that no value can make
Postgres refuse a row (which would fail the whole export and have the collector resend it for ever):

- text: Postgres `text` cannot hold NUL and `jsonb` cannot hold `\\u0000`; neither can hold an unpaired UTF-16
  surrogate (which a JSON string may still carry after decoding). Both become U+FFFD.
- identifier columns (model, user, session, prompt, workflow, ... anything an index covers) are cut to
  `IDENTIFIER_MAX` characters with a trailing `…`: a btree index row holds at most 2704 bytes, and one value of a
  few thousand characters would otherwise refuse the row. The caller keeps the full value in `attributes`.
- counts and money: a token count above `TOKENS_MAX` or a cost above `COST_MAX_USD` is not a real call; the value
  is dropped (kept in `attributes`, reported as a warning) so that one absurd span cannot overflow a day's sums.

All functions are total: odd input gives `None`, never an exception (or `OutOfRange`, said where). What a value
means (a number, a flag) is `tokentrail.contract.coerce`'s rule; this module adds what Postgres needs.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson

from tokentrail.contract import coerce

__all__ = [
    "COST_MAX_USD",
    "IDENTIFIER_MAX",
    "STRINGS_MAX",
    "TOKENS_MAX",
    "OutOfRange",
    "as_cost",
    "as_count",
    "as_identifier",
    "as_strings",
    "as_text",
    "cut",
    "json_text",
    "safe_text",
    "scrub",
]

IDENTIFIER_MAX: Final = 512
"""Characters kept in an indexed text column (4 bytes each at most in UTF-8: within a btree row's 2704 bytes)."""
TOKENS_MAX: Final = 10**12
"""The largest token count one call can report; anything above is refused as impossible."""
COST_MAX_USD: Final = Decimal(1_000_000)
"""The largest cost in USD one call can have; anything above is refused as impossible."""
STRINGS_MAX: Final = 256
"""Items kept in an array column (tags, finish reasons)."""

_ELLIPSIS: Final = "…"
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_REPLACEMENT: Final = "\ufffd"
_NUL_ESCAPE: Final = "\\u0000"


def safe_text(text: str) -> str:
    """`text` without NUL and unpaired surrogates (each becomes U+FFFD); the same object when it has neither."""
    if "\x00" in text:
        text = text.replace("\x00", _REPLACEMENT)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub(_REPLACEMENT, text)
    return text


def scrub(value: Any) -> Any:
    """A decoded JSON-like value with every string (keys too) made safe; other values as they are."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(key) if isinstance(key, str) else key: scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    return value


def json_text(value: Any) -> str:
    """Compact JSON text that `jsonb` accepts (orjson: the sink's hottest path).

    Decoded OTLP strings are already free of NUL and surrogates; values a translation decoded from JSON strings
    may not be, and are scrubbed (the rare slow path). Anything odd (a huge integer, an object) falls back to
    the standard library, as text."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # an unpaired surrogate, an integer beyond 64 bits, an object
        value = scrub(value)
        try:
            text = orjson.dumps(value).decode()
        except TypeError:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if _NUL_ESCAPE in text:
        text = orjson.dumps(scrub(value)).decode()
    return text


def as_text(value: Any) -> str | None:
    """Any attribute value as storable text (structures as JSON), `None` for `None`."""
    if value is None:
        return None
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, (bool, int, float)):
        return str(value)
    return json_text(value)


def cut(text: str) -> str:
    """`text` cut to `IDENTIFIER_MAX` characters, the last one `…`; the same object when it is short enough."""
    return text if len(text) <= IDENTIFIER_MAX else text[: IDENTIFIER_MAX - 1] + _ELLIPSIS


def as_identifier(value: Any) -> str | None:
    """`as_text`, `cut` for an indexed column."""
    text = as_text(value)
    return None if text is None else cut(text)


def as_strings(value: Any) -> list[str] | None:
    """A text array column: a string, or a sequence of values, each item an identifier; at most `STRINGS_MAX`."""
    if value is None:
        return None
    items = value if isinstance(value, (list, tuple)) else [value]
    kept = [as_identifier(item) for item in items[:STRINGS_MAX] if item is not None]
    return [item for item in kept if item is not None]


class OutOfRange(ValueError):
    """A number that no real call can have (negative, or above its bound)."""


def as_count(value: Any) -> int | None:
    """A token count: `None` when absent or not a number; `OutOfRange` when negative or above `TOKENS_MAX`."""
    found = coerce.number(value)
    if found is None or (isinstance(found, float) and not math.isfinite(found)):
        return None
    count = int(found)
    if not 0 <= count <= TOKENS_MAX:
        raise OutOfRange(f"token count {value!r} is outside 0..{TOKENS_MAX}")
    return count


def as_cost(value: Any) -> Decimal | None:
    """A cost in USD with 10 decimals: `None` when absent or not a number; `OutOfRange` when negative or above
    `COST_MAX_USD`."""
    amount = coerce.real(value)
    if amount is None:
        return None
    if not 0 <= amount <= COST_MAX_USD:
        raise OutOfRange(f"cost {value!r} USD is outside 0..{COST_MAX_USD}")
    try:
        cost = Decimal(repr(amount)).quantize(Decimal("1e-10"))
    except InvalidOperation:
        return None
    return cost
