"""The user's price override file (TOML or JSON), parsed and validated into exact names and prefix patterns.

USD per million tokens; `input` and `output` are required, the cache rates default by Anthropic's factors. A bad
file raises `PricingError` naming the file and, where it can be found, the line.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from tokentrail.errors import PricingError
from tokentrail.pricing.rates import (
    CACHE_READ_FACTOR,
    CACHE_WRITE_1H_FACTOR,
    CACHE_WRITE_5M_FACTOR,
    PER_MTOK,
    RATE_FIELDS,
    Rates,
)

__all__ = ["load_overrides"]

_REQUIRED_FIELDS = ("input", "output")


def _line_of(text: str, key: str) -> int | None:
    """The 1-based line where `key` is first written as a quoted or bare key in the file text."""
    for candidate in (f'"{key}"', f"'{key}'", key):
        for number, line in enumerate(text.splitlines(), start=1):
            if candidate in line:
                return number
    return None


def _parse(path: Path) -> tuple[str, Any]:
    """(the file's text, its parsed data)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PricingError(f"{path}: cannot read the price override file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise PricingError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None

    if path.suffix.lower() == ".json":
        try:
            return text, json.loads(text)
        except json.JSONDecodeError as exc:
            raise PricingError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        lineno = getattr(exc, "lineno", None)  # Python 3.14+; older versions only say it in the message
        if lineno is None and (found := re.search(r"\(at line (\d+), column \d+\)", str(exc))):
            lineno = int(found[1])
        where = f"{path}:{lineno}" if lineno else str(path)
        raise PricingError(f"{where}: invalid TOML: {exc}") from None


def _rates(where: str, key: str, entry: Any) -> Rates:
    """One model's table of prices (USD per million tokens) as per-token rates."""
    if not isinstance(entry, dict):
        raise PricingError(
            f"{where}: model {key!r}: expected a table of prices ({', '.join(RATE_FIELDS)}), got {type(entry).__name__}"
        )
    unknown = sorted(set(entry) - set(RATE_FIELDS))
    if unknown:
        raise PricingError(f"{where}: model {key!r}: unknown field {unknown[0]!r} (allowed: {', '.join(RATE_FIELDS)})")
    values: dict[str, float] = {}
    for field in RATE_FIELDS:
        if field not in entry:
            if field in _REQUIRED_FIELDS:
                raise PricingError(f"{where}: model {key!r}: missing required field {field!r}")
            continue
        raw = entry[field]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or raw < 0:
            raise PricingError(
                f"{where}: model {key!r}: field {field!r} must be a non-negative number "
                f"(USD per million tokens), got {raw!r}"
            )
        values[field] = float(raw) / PER_MTOK
    base_input = values["input"]
    return Rates(
        input=base_input,
        output=values["output"],
        cache_read=values.get("cache_read", base_input * CACHE_READ_FACTOR),
        cache_write_5m=values.get("cache_write_5m", base_input * CACHE_WRITE_5M_FACTOR),
        cache_write_1h=values.get("cache_write_1h", base_input * CACHE_WRITE_1H_FACTOR),
    )


def load_overrides(path: Path) -> tuple[dict[str, Rates], list[tuple[str, Rates]]]:
    """Parse and validate an override file into exact names and prefix patterns (longest first)."""
    text, data = _parse(path)
    if not isinstance(data, dict):
        raise PricingError(f"{path}: expected a mapping of model name -> prices, got {type(data).__name__}")
    if set(data) == {"models"} and isinstance(data["models"], dict):
        data = data["models"]

    exact: dict[str, Rates] = {}
    prefixes: list[tuple[str, Rates]] = []
    for key, entry in data.items():
        line = _line_of(text, key)
        where = f"{path}:{line}" if line else str(path)
        name = str(key).strip().lower()
        if not name or name == "*":
            raise PricingError(f"{where}: model name {key!r} must not be empty")
        rates = _rates(where, key, entry)
        if name.endswith("*"):
            prefixes.append((name[:-1], rates))
        else:
            exact[name] = rates
    prefixes.sort(key=lambda item: len(item[0]), reverse=True)
    return exact, prefixes
