"""The pieces `reports.rollup` builds its queries from: the rollups, a range cut into segments, the sums.

Every rollup table (schema version 6) has `grain` ('hour' or 'day') and `period` (that hour's or day's start,
UTC) and the same sums; `measures` sums rollup rows, `raw_measures` computes the same from `llm_calls` rows, as the
triggers do. The queries are run unprepared (`prepare=False`): a generic plan of a range query, which psycopg's
automatic preparing leads Postgres to after a few runs, cannot skip partitions and rollup periods by the actual
bounds, and was several times slower.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from psycopg import sql

__all__ = [
    "BUCKET_RATIO",
    "HOUR",
    "NAMES",
    "SERIES_NAMES",
    "Family",
    "Segment",
    "measures",
    "negated",
    "outer_sums",
    "raw_measures",
    "segments",
]

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


# Each sum from llm_calls rows, as the triggers compute it (sign +1).
RAW: Final[dict[str, str]] = {
    "calls": "count(*)",
    "errors": "count(*) FILTER (WHERE c.status = 'error')",
    "retried": "count(*) FILTER (WHERE c.attempts > 1)",
    "cost_usd": "coalesce(sum(c.cost_usd), 0)",
    "cost_calls": "count(c.cost_usd)",
    "input_tokens": "coalesce(sum(c.input_tokens) FILTER (WHERE c.operation <> 'count_tokens'), 0)",
    "counted_tokens": "coalesce(sum(c.input_tokens) FILTER (WHERE c.operation = 'count_tokens'), 0)",
    "output_tokens": "coalesce(sum(c.output_tokens), 0)",
    "output_calls": "count(c.output_tokens)",
    "cache_read_tokens": "coalesce(sum(c.cache_read_tokens), 0)",
    "cache_read_calls": "count(c.cache_read_tokens)",
    "cache_write_tokens": "coalesce(sum(c.cache_write_tokens), 0)",
    "reasoning_tokens": "coalesce(sum(c.reasoning_tokens), 0)",
    "duration_ms": "sum(c.duration_ms)",
    "ttfc_calls": "count(c.time_to_first_chunk_ms)",
    "ttfc_ms": "coalesce(sum(c.time_to_first_chunk_ms), 0)",
}
NAMES: Final = tuple(RAW)
SERIES_NAMES: Final = ("calls", "errors", "cost_usd", "input_tokens", "output_tokens", "cache_read_tokens")
"""What a series sums (the charts' figures): fewer sums per row, the others stay 0."""


def measures(names: tuple[str, ...]) -> sql.Composable:
    """`names` summed over rollup rows."""
    return sql.SQL(", ").join(sql.SQL("sum(c.{0}) AS {0}").format(sql.Identifier(n)) for n in names)


def raw_measures(names: tuple[str, ...]) -> sql.Composable:
    """`names` computed from llm_calls rows."""
    return sql.SQL(", ").join(sql.SQL("{} AS {}").format(sql.SQL(RAW[n]), sql.Identifier(n)) for n in names)


def negated(names: tuple[str, ...]) -> sql.Composable:
    """`names` summed over rollup rows, negated (to subtract a part from a whole)."""
    return sql.SQL(", ").join(sql.SQL("-sum(c.{0}) AS {0}").format(sql.Identifier(n)) for n in names)


def outer_sums(names: tuple[str, ...]) -> sql.Composable:
    """The segments' `names` summed into one row per group, typed as `Totals` expects."""
    return sql.SQL(", ").join(
        sql.SQL("coalesce(sum(s.{0}), 0)::{1} AS {0}").format(
            sql.Identifier(n), sql.SQL("numeric" if n == "cost_usd" else "float8" if n.endswith("_ms") else "bigint")
        )
        for n in names
    )
