"""Time series over `llm_calls`: calls, errors, cost, tokens and latency per time bucket (and per group).

Buckets are `date_bin` intervals aligned on the filter's `since` (or the Unix epoch without one), in UTC; a bucket
with no call has no row, and `bucket_starts` lists every bucket of a range so callers can fill the gaps with zeros.
Groupings are those of `queries.stats` (`GROUPINGS` or `attr:KEY`). SELECT only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Final

from psycopg import sql
from psycopg.rows import class_row

from tokentrail.reports.callfilter import CallFilter, filter_conditions
from tokentrail.reports.queries import Connection, grouping_key

__all__ = ["MAX_BUCKETS", "SeriesPoint", "bucket_starts", "series"]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_BUCKETS: Final = 10_000
"""The most buckets one series may ask for (a bucket too small for its range is an error)."""


@dataclass(frozen=True)
class SeriesPoint:
    """One bucket of one group (`key` None without a grouping, or for calls outside every group)."""

    bucket: datetime
    key: str | None
    calls: int
    errors: int
    cost_usd: Decimal
    input_tokens: int
    """Including cache reads and writes; token counting (count_tokens) left out, as in `stats`."""
    output_tokens: int
    cache_read_tokens: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float


_COLUMNS: Final = sql.SQL(
    """
    count(*) AS calls,
    count(*) FILTER (WHERE c.status = 'error') AS errors,
    coalesce(sum(c.cost_usd), 0) AS cost_usd,
    coalesce(sum(c.input_tokens) FILTER (WHERE c.operation <> 'count_tokens'), 0)::bigint AS input_tokens,
    coalesce(sum(c.output_tokens), 0)::bigint AS output_tokens,
    coalesce(sum(c.cache_read_tokens), 0)::bigint AS cache_read_tokens,
    percentile_cont(0.50) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p50_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p95_ms,
    percentile_cont(0.99) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p99_ms
    """
)


def _check(bucket: timedelta, since: datetime | None, until: datetime | None) -> None:
    if bucket <= timedelta(0):
        raise ValueError("the bucket must be longer than zero")
    if since is not None and until is not None and (until - since) / bucket > MAX_BUCKETS:
        raise ValueError(f"a bucket of {bucket} gives more than {MAX_BUCKETS} points over this range")


def series(conn: Connection, where: CallFilter, bucket: timedelta, by: str | None = None) -> list[SeriesPoint]:
    """The calls `where` selects, per `bucket` of start time and per `by` group, in time then key order.

    `where.limit` and `.offset` do not apply. A call with several tags (tools) counts under each, as in `stats`.
    """
    _check(bucket, where.since, where.until)
    cond = filter_conditions(where)
    key, join = grouping_key(by, cond)
    cond.params.update(bucket=bucket, origin=where.since or EPOCH)
    query = sql.SQL(
        "SELECT date_bin(%(bucket)s, c.start_time, %(origin)s) AS bucket, {key} AS key, {columns} "
        "FROM llm_calls AS c{join}{where} GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST"
    ).format(key=key, columns=_COLUMNS, join=join, where=cond.clause())
    with conn.cursor(row_factory=class_row(SeriesPoint)) as cur:
        return cur.execute(query, cond.params).fetchall()


def bucket_starts(
    since: datetime, until: datetime, bucket: timedelta, origin: datetime | None = None
) -> list[datetime]:
    """Every bucket start of `since <= t < until`, as `series` aligns them for a filter starting at `since` (or
    on `origin`: then the first bucket may start before `since`)."""
    _check(bucket, since, until)
    starts = []
    moment = since if origin is None else since - (since - origin) % bucket
    while moment < until:
        starts.append(moment)
        moment += bucket
    return starts
