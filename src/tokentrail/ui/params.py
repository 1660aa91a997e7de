"""Query strings -> the read side's values, parsed by the CLI's own parsers (`tokentrail.reports.filters`,
`callfilter`, `queries.parse_grouping` / `parse_sort`), so a URL and a command line accept the same text.

Every bad value raises `BadParameter` (a 400 page naming the parameter); nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Final

from tokentrail.reports import filters
from tokentrail.reports.callfilter import MAX_LIMIT, CallFilter, parse_attr_key, parse_prompt
from tokentrail.reports.paging import Cursor, parse_cursor
from tokentrail.reports.queries import parse_grouping, parse_sort

__all__ = [
    "PAGE_SIZES",
    "PRESETS",
    "BadParameter",
    "Params",
    "TimeRange",
    "attr_key",
    "call_filter",
    "cursor",
    "grouping",
    "page",
    "sort",
    "time_range",
    "trace_id",
]

PRESETS: Final = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_PRESET: Final = "24h"
PAGE_SIZES: Final = (25, 50, 100, 250)
MAX_PAGE_SIZE: Final = 1000
MAX_PAGE: Final = 1_000_000
# Bucket widths for time series, smallest first: a range gets the smallest that gives at most MAX_BUCKETS points.
# From an hour up they are whole hours that divide a day, or whole days, so that the rollups serve them.
_STEPS: Final = tuple(timedelta(seconds=s) for s in (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400))
MAX_BUCKETS: Final = 60


class BadParameter(ValueError):
    """A query parameter that cannot be used; the message names it and says what it takes."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


Params = Mapping[str, str]
"""A query string, one value per name (Starlette's `QueryParams` is one)."""


@dataclass(frozen=True)
class TimeRange:
    """The half-open range a page shows: a preset back from now (`1h` .. `30d`) or a custom since/until."""

    since: datetime
    until: datetime
    preset: str | None
    """The preset's name; None for a custom range (which then never refreshes itself)."""

    @property
    def bucket(self) -> timedelta:
        """The bucket width of a time series over this range."""
        span = self.until - self.since
        for step in _STEPS:
            if span / step <= MAX_BUCKETS:
                return step
        return _STEPS[-1]


def _get(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def time_range(params: Params, now: datetime | None = None) -> TimeRange:
    """`range=1h|24h|7d|30d` (default 24h), or `since` (and optionally `until`): a duration back from now or an
    ISO date/time, as the CLI's `--since` takes."""
    now = now or datetime.now(timezone.utc)
    since_text, until_text, preset = _get(params, "since"), _get(params, "until"), _get(params, "range")
    if since_text is None and until_text is None:
        name = preset or DEFAULT_PRESET
        if name not in PRESETS:
            raise BadParameter("range", f"{name!r} is not one of {', '.join(PRESETS)} (or give since/until)")
        return TimeRange(now - PRESETS[name], now, name)
    try:
        since = filters.parse_moment(since_text, now) if since_text else now - PRESETS[DEFAULT_PRESET]
    except ValueError as exc:
        raise BadParameter("since", str(exc)) from None
    try:
        until = filters.parse_moment(until_text, now) if until_text else now
    except ValueError as exc:
        raise BadParameter("until", str(exc)) from None
    if until <= since:
        raise BadParameter("until", "must be later than since")
    return TimeRange(since, until, None)


_TEXT_FIELDS: Final = (
    "model",
    "user",
    "session",
    "service",
    "tag",
    "workflow",
    "call_type",
    "operation",
    "error_type",
    "tool",
    "request_id",
    "search",
)
FILTER_NAMES: Final = (
    *_TEXT_FIELDS,
    "status",
    "prompt",
    "attr",
    "trace_id",
    "retried",
    "min_cost",
    "min_latency",
)
"""The query parameters `call_filter` reads (besides the time range and the page)."""


def call_filter(params: Params, window: TimeRange, multi: Mapping[str, Sequence[str]] | None = None) -> CallFilter:
    """The `CallFilter` a query string asks for over `window`.

    Parameters are the `CallFilter` field names; `attr=KEY:VALUE` may repeat (pass every value in `multi`),
    `min_latency` is a duration (`2s`, `500ms`), `min_cost` an amount in USD, `retried` yes/no.
    """
    values: dict[str, object] = {name: _get(params, name) for name in _TEXT_FIELDS}
    status = _get(params, "status")
    if status not in (None, "ok", "error"):
        raise BadParameter("status", f"{status!r} is not ok or error")
    values["status"] = status
    prompt = _get(params, "prompt")
    if prompt is not None:
        try:
            parse_prompt(prompt)
        except ValueError as exc:
            raise BadParameter("prompt", str(exc)) from None
    values["prompt"] = prompt
    attrs = []
    for item in (multi or {}).get("attr") or ([params["attr"]] if params.get("attr") else []):
        if not item.strip():
            continue  # an empty form field
        key, sep, value = item.partition(":")
        if not sep:
            raise BadParameter("attr", f"{item!r} is not KEY:VALUE (e.g. company_id:acme)")
        try:
            attrs.append((parse_attr_key(key), value))
        except ValueError as exc:
            raise BadParameter("attr", str(exc)) from None
    values["attrs"] = tuple(attrs)
    values["trace_id"] = trace_id(params["trace_id"]) if _get(params, "trace_id") else None
    retried = _get(params, "retried")
    if retried not in (None, "yes", "no"):
        raise BadParameter("retried", f"{retried!r} is not yes or no")
    values["retried"] = None if retried is None else retried == "yes"
    min_cost = _get(params, "min_cost")
    try:
        values["min_cost"] = filters.parse_money(min_cost) if min_cost else None
    except ValueError as exc:
        raise BadParameter("min_cost", str(exc)) from None
    min_latency = _get(params, "min_latency")
    try:
        latency = filters.parse_positive_duration(min_latency) if min_latency else None
    except ValueError as exc:
        raise BadParameter("min_latency", str(exc)) from None
    values["min_latency_ms"] = latency.total_seconds() * 1000 if latency else None
    try:
        return CallFilter(since=window.since, until=window.until, **values)  # type: ignore[arg-type]
    except ValueError as exc:
        raise BadParameter("filter", str(exc)) from None


def page(params: Params, where: CallFilter, default_size: int = 50) -> CallFilter:
    """`where` limited to one page: `size` rows (at most `MAX_PAGE_SIZE`) of page `page` (from 1)."""
    size = _count(params, "size", default_size)
    if size > MAX_PAGE_SIZE:
        raise BadParameter("size", f"{size} is more than {MAX_PAGE_SIZE} rows a page (export the rest as CSV)")
    number = _count(params, "page", 1)
    if number > MAX_PAGE:
        raise BadParameter("page", f"{number} is more than {MAX_PAGE} pages (narrow the filter or export)")
    return replace(where, limit=min(size, MAX_LIMIT), offset=(number - 1) * size)


def _count(params: Params, name: str, default: int) -> int:
    text = _get(params, name)
    if text is None:
        return default
    try:
        return filters.parse_count(text)
    except ValueError as exc:
        raise BadParameter(name, str(exc)) from None


def grouping(params: Params, name: str = "by", default: str = "model", allowed: Sequence[str] | None = None) -> str:
    """A grouping (`model`, `user`, ..., `attr:KEY`), checked as the CLI's `--by`, optionally among `allowed`."""
    text = _get(params, name) or default
    try:
        value = parse_grouping(text)
    except ValueError as exc:
        raise BadParameter(name, str(exc)) from None
    if allowed is not None and value not in allowed and not value.startswith("attr:"):
        raise BadParameter(name, f"{text!r} is not one of {', '.join(allowed)} or attr:KEY")
    return value


def cursor(params: Params, sort: str) -> Cursor | None:
    """`after=CURSOR` (the rows after that one: the next page) or `before=CURSOR` (the previous page), as the
    pager's links write them for `sort`; None when neither is given."""
    after, before = _get(params, "after"), _get(params, "before")
    if after is not None and before is not None:
        raise BadParameter("before", "give after or before, not both")
    text = after if after is not None else before
    if text is None:
        return None
    try:
        return parse_cursor(text, sort, before=before is not None)
    except ValueError as exc:
        raise BadParameter("after" if before is None else "before", str(exc)) from None


def sort(params: Params, default: str = "-time") -> str:
    try:
        return parse_sort(_get(params, "sort") or default)
    except ValueError as exc:
        raise BadParameter("sort", str(exc)) from None


def trace_id(text: str) -> str:
    try:
        return filters.parse_trace_id(text)
    except ValueError as exc:
        raise BadParameter("trace_id", str(exc)) from None


def attr_key(params: Params, name: str, default: str) -> str:
    """An app attribute key (`company_id`), checked as `attr:KEY` groupings are."""
    try:
        return parse_attr_key(_get(params, name) or default)
    except ValueError as exc:
        raise BadParameter(name, str(exc)) from None
