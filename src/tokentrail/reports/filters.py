"""Filter values as people type them: durations, points in time, amounts, counts, trace ids, time ranges.

Shared by the CLI (as argparse types) and the web UI (from query strings), so both accept and reject exactly the
same text with the same messages. Every parser raises `ValueError` with a one-line message saying what it takes.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Final

from tokentrail.db.retention import MIN_RETENTION

__all__ = [
    "check_range",
    "parse_attr",
    "parse_count",
    "parse_grouping",
    "parse_limit",
    "parse_duration",
    "parse_money",
    "parse_moment",
    "parse_offset",
    "parse_positive_duration",
    "parse_prompt_text",
    "parse_retention",
    "parse_text",
    "parse_trace_id",
]

_UNITS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_FULL: Final = re.compile(rf"(?:{_DURATION.pattern})+")
_TRACE_ID: Final = re.compile(r"[0-9a-f]{32}")


def parse_duration(text: str) -> timedelta:
    """`7d`, `12h`, `30m`, `2s`, `1500ms`, `2w`, or combinations like `1h30m`."""
    compact = text.strip().lower().replace(" ", "")
    if not _DURATION_FULL.fullmatch(compact):
        raise ValueError(f"{text!r} is not a duration like 7d, 12h, 30m, 2s or 1500ms")
    seconds = sum(float(number) * _UNITS[unit] for number, unit in _DURATION.findall(compact))
    return timedelta(seconds=seconds)


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """A point in time: a duration back from now (`7d`), an ISO date (UTC midnight) or an ISO date-time
    (UTC unless it carries an offset)."""
    now = now or datetime.now(timezone.utc)
    stripped = text.strip()
    if _DURATION_FULL.fullmatch(stripped.lower().replace(" ", "")):
        return now - parse_duration(stripped)
    try:
        if len(stripped) == 10:
            day = date.fromisoformat(stripped)
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        moment = datetime.fromisoformat(stripped.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (7d, 12h) nor an ISO date or time (2026-11-01)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_positive_duration(text: str) -> timedelta:
    """A duration longer than zero (a latency threshold)."""
    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError(f"{text!r} must be longer than zero")
    return value


def parse_retention(text: str) -> timedelta:
    """How long to keep stored calls: a duration of at least one day."""
    value = parse_duration(text)
    if value < MIN_RETENTION:
        raise ValueError(f"{text!r} is under one day; partitions are daily, give at least 1d (e.g. 90d)")
    return value


def parse_money(text: str) -> Decimal:
    """A non-negative amount in USD, with or without a leading `$`."""
    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount in USD like 0.05") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{text!r} must be a non-negative amount in USD")
    return value


def _whole_number(text: str, minimum: int, too_small: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise ValueError(f"{text!r} {too_small}")
    return value


def parse_count(text: str) -> int:
    """A whole number of at least 1 (a row limit)."""
    return _whole_number(text, 1, "must be at least 1")


def parse_offset(text: str) -> int:
    """A whole number of at least 0 (rows to skip)."""
    return _whole_number(text, 0, "must not be negative")


def parse_text(text: str) -> str:
    """Any text but blank (a search, a request id)."""
    if not text.strip():
        raise ValueError("must not be empty")
    return text


# The read layer's own parsers, imported on use: they bring psycopg, and `tokentrail --help` must stay instant.
def parse_grouping(text: str) -> str:
    """`reports.queries.parse_grouping`: one of its GROUPINGS or `attr:KEY`."""
    from tokentrail.reports.queries import parse_grouping

    return parse_grouping(text)


def parse_attr(text: str) -> tuple[str, str]:
    """`KEY=VALUE` of an app attribute (`tokentrail.attributes(KEY=...)`) -> (key, value)."""
    from tokentrail.reports.callfilter import parse_attr_key

    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"{text!r} is not KEY=VALUE (e.g. tenant_id=acme)")
    return parse_attr_key(key), value


def parse_prompt_text(text: str) -> str:
    """`name` or `name@version`, checked (`reports.callfilter.parse_prompt`) and returned as given."""
    from tokentrail.reports.callfilter import parse_prompt

    parse_prompt(text)
    return text.strip()


def parse_limit(text: str) -> int:
    """A page size: at least 1, at most `reports.callfilter.MAX_LIMIT`."""
    from tokentrail.reports.callfilter import MAX_LIMIT

    value = parse_count(text)
    if value > MAX_LIMIT:
        raise ValueError(f"{value} is over the maximum of {MAX_LIMIT} (use --format jsonl to export everything)")
    return value


def parse_trace_id(text: str) -> str:
    """A W3C trace id: 32 hexadecimal characters, not all zero; returned in lower case."""
    value = text.strip().lower()
    if not _TRACE_ID.fullmatch(value) or value == "0" * 32:
        raise ValueError(f"{text!r} is not a trace id (32 hexadecimal characters)")
    return value


def check_range(since: datetime | None, until: datetime | None) -> None:
    """A half-open range `since <= t < until` (either side may be open): aware times, `until` after `since`."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    if since is not None and until is not None and until <= since:
        raise ValueError("until must be later than since")
