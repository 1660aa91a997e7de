"""The pieces `reports.rollup` builds its queries from: the rollups, a range cut into segments, the sums.

Every rollup table (schema version 6) has `grain` ('hour' or 'day') and `period` (that hour's or day's start,
UTC) and the same sums; `MEASURES` sums rollup rows, `RAW_MEASURES` computes the same from `llm_calls` rows, as the
triggers do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from psycopg import sql

__all__ = ["BUCKET_RATIO", "HOUR", "MEASURES", "RAW_MEASURES", "Family", "Segment", "segments"]

BUCKET_RATIO: Final = 1.1
"""Consecutive latency histogram bounds differ by this factor (tokentrail_latency_bucket in SQL)."""
HOUR: Final = timedelta(hours=1)
_DAY: Final = timedelta(days=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Family:
    """A rollup table and the `CallFilter` criteria its dimensions can answer."""

    table: str
    fields: frozenset[str]


@dataclass(frozen=True)
class Segment:
    """A part of a range: rollup rows of `grain` with `lo <= period < hi`, or `llm_calls` rows (grain None)."""

    grain: str | None
    lo: datetime | None
    hi: datetime | None


def _floor(moment: datetime, step: timedelta) -> datetime:
    return moment - (moment - _EPOCH) % step


def _ceil(moment: datetime, step: timedelta) -> datetime:
    floor = _floor(moment, step)
    return floor if floor == moment else floor + step


def segments(since: datetime | None, until: datetime | None, *, hours: bool, days: bool) -> list[Segment]:
    """`since <= t < until` as whole days (with `days`), whole hours (with `hours`) and raw edges.

    An open end needs no raw edge: the rollup holds every call of each hour."""
    if not hours:
        return [Segment(None, since, until)]
    h0 = _ceil(since, HOUR) if since is not None else None
    h1 = _floor(until, HOUR) if until is not None else None
    if h0 is not None and h1 is not None and h0 >= h1:
        return [Segment(None, since, until)]
    out = []
    if since is not None and since < h0:  # type: ignore[operator]
        out.append(Segment(None, since, h0))
    d0 = _ceil(h0, _DAY) if h0 is not None else None
    d1 = _floor(h1, _DAY) if h1 is not None else None
    if days and (d0 is None or d1 is None or d0 < d1):
        if h0 is not None and h0 < d0:  # type: ignore[operator]
            out.append(Segment("hour", h0, d0))
        out.append(Segment("day", d0, d1))
        if h1 is not None and d1 < h1:  # type: ignore[operator]
            out.append(Segment("hour", d1, h1))
    else:
        out.append(Segment("hour", h0, h1))
    if until is not None and h1 < until:  # type: ignore[operator]
        out.append(Segment(None, h1, until))
    return out


NAMES: Final = (
    "calls", "errors", "retried", "cost_usd", "cost_calls", "input_tokens", "counted_tokens", "output_tokens",
    "output_calls", "cache_read_tokens", "cache_read_calls", "cache_write_tokens", "reasoning_tokens",
    "duration_ms", "ttfc_calls", "ttfc_ms",
)  # fmt: skip
MEASURES: Final = sql.SQL(", ").join(sql.SQL("sum(c.{0}) AS {0}").format(sql.Identifier(n)) for n in NAMES)
RAW_MEASURES: Final = sql.SQL(
    """count(*) AS calls,
    count(*) FILTER (WHERE c.status = 'error') AS errors,
    count(*) FILTER (WHERE c.attempts > 1) AS retried,
    coalesce(sum(c.cost_usd), 0) AS cost_usd,
    count(c.cost_usd) AS cost_calls,
    coalesce(sum(c.input_tokens) FILTER (WHERE c.operation <> 'count_tokens'), 0) AS input_tokens,
    coalesce(sum(c.input_tokens) FILTER (WHERE c.operation = 'count_tokens'), 0) AS counted_tokens,
    coalesce(sum(c.output_tokens), 0) AS output_tokens,
    count(c.output_tokens) AS output_calls,
    coalesce(sum(c.cache_read_tokens), 0) AS cache_read_tokens,
    count(c.cache_read_tokens) AS cache_read_calls,
    coalesce(sum(c.cache_write_tokens), 0) AS cache_write_tokens,
    coalesce(sum(c.reasoning_tokens), 0) AS reasoning_tokens,
    sum(c.duration_ms) AS duration_ms,
    count(c.time_to_first_chunk_ms) AS ttfc_calls,
    coalesce(sum(c.time_to_first_chunk_ms), 0) AS ttfc_ms"""
)
