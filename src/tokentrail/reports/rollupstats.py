"""`queries.stats` from the rollups, with percentiles from the latency histograms.

`tokentrail_latency_bucket` (SQL) puts a latency in a bucket 10% wide; a bucket is read as its geometric middle,
and the histograms of the segments of a range (days, hours, and the raw edges bucketed by the same function) are
merged before a percentile is read the way `percentile_cont` reads values: each is within 4.9% (sqrt(1.1) - 1) of
the exact one, for latencies of 1 ms and more (below, within 0.5 ms).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Final

from psycopg import sql

from tokentrail.reports.callfilter import CallFilter, Where
from tokentrail.reports.queries import Connection, StatsRow
from tokentrail.reports.rollup import LATENCY, RAW, RollupQuery, Totals, add_up, totals, used_fields
from tokentrail.reports.rollupsql import BUCKET_RATIO, segments

__all__ = ["MAX_RELATIVE_ERROR", "bucket_value", "histograms", "percentile", "stats", "stats_and_total", "stats_from"]

MAX_RELATIVE_ERROR: Final = math.sqrt(BUCKET_RATIO) - 1
"""The most a histogram percentile differs from the exact one, relatively (latencies of 1 ms and more)."""

_LATENCY_GROUPINGS: Final = frozenset({None, "model", "prompt-version"})
Histograms = dict[tuple[str | None, int], dict[int, int]]

_HIST_ROLLUP: Final = sql.SQL("c.metric, c.bucket AS hb, sum(c.calls) AS n")
_HIST_RAW: Final = sql.SQL("m.metric, tokentrail_latency_bucket(m.ms) AS hb, count(*) AS n")
_METRICS_JOIN: Final = sql.SQL(
    " CROSS JOIN LATERAL (VALUES (0::smallint, c.duration_ms), (1::smallint, c.time_to_first_chunk_ms))"
    " AS m(metric, ms)"
)


def histograms(conn: Connection, where: CallFilter, by: str | None) -> Histograms:
    """(key, metric) -> {bucket: calls}: metric 0 is the latency, 1 the time to first chunk."""
    family = LATENCY if by in _LATENCY_GROUPINGS and used_fields(where) <= LATENCY.fields else RAW
    query = RollupQuery(where, family, by)
    spans = segments(where.since, where.until, hours=family is not RAW, days=family is not RAW)
    parts = []
    for index, seg in enumerate(spans):
        cond = Where()
        if seg.grain is None or family is RAW:
            cond.conditions = [*query.range("c.start_time", seg, index), *query.raw_cond.conditions]
            cond.add("m.ms IS NOT NULL")
            parts.append(
                sql.SQL("SELECT {key} AS key, {m} FROM llm_calls AS c{join}{mj}{where} GROUP BY 1, 2, 3").format(
                    key=query.raw_key, m=_HIST_RAW, join=query.raw_join, mj=_METRICS_JOIN, where=cond.clause()
                )
            )
        else:
            cond.conditions = [
                sql.SQL("c.grain = {}").format(sql.Literal(seg.grain)),
                *query.range("c.period", seg, index),
                *query.cond.conditions,
            ]
            parts.append(
                sql.SQL("SELECT {key} AS key, {m} FROM llm_rollup_latency AS c{where} GROUP BY 1, 2, 3").format(
                    key=query.key, m=_HIST_ROLLUP, where=cond.clause()
                )
            )
    text = sql.SQL(
        "SELECT s.key, s.metric, s.hb, sum(s.n)::bigint AS n FROM ({}) AS s GROUP BY 1, 2, 3 HAVING sum(s.n) > 0"
    ).format(sql.SQL(" UNION ALL ").join(parts))
    found: Histograms = defaultdict(dict)
    with conn.cursor() as cur:
        for key, metric, hb, n in cur.execute(text, query.params, prepare=False):
            found[(key, int(metric))][int(hb)] = int(n)
    return dict(found)


def bucket_value(bucket: int) -> float:
    """The value a histogram bucket stands for: its geometric middle (0.5 ms for [0, 1) ms)."""
    return 0.5 if bucket <= 0 else float(BUCKET_RATIO ** (bucket - 0.5))


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """`percentile_cont(q)` of the values a histogram holds, each read as its bucket's value; None when empty."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = q * (total - 1)
    below, above = math.floor(rank), math.ceil(rank)
    low = high = None
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if low is None and seen > below:
            low = bucket_value(bucket)
        if seen > above:
            high = bucket_value(bucket)
            break
    assert low is not None
    assert high is not None
    return low + (rank - below) * (high - low)


def _ratio(part: int, whole: int, known: int = 1) -> float | None:
    return part / whole if whole and known else None


def _row(r: Totals, hist: Histograms) -> StatsRow:
    latency, ttfc = hist.get((r.key, 0), {}), hist.get((r.key, 1), {})
    return StatsRow(
        key=r.key,
        calls=r.calls,
        errors=r.errors,
        error_rate=r.error_rate,
        retried=r.retried,
        input_tokens=r.input_tokens,
        output_tokens=r.output_tokens,
        cache_read_tokens=r.cache_read_tokens,
        cache_write_tokens=r.cache_write_tokens,
        cache_hit_ratio=_ratio(r.cache_read_tokens, r.input_tokens, r.cache_read_calls),
        counted_tokens=r.counted_tokens,
        cost_usd=r.cost_usd,
        latency_mean_ms=r.duration_ms / r.calls,
        latency_p50_ms=percentile(latency, 0.50) or 0.0,
        latency_p95_ms=percentile(latency, 0.95) or 0.0,
        latency_p99_ms=percentile(latency, 0.99) or 0.0,
        ttfc_p50_ms=percentile(ttfc, 0.50),
        ttfc_p95_ms=percentile(ttfc, 0.95),
    )


def stats(conn: Connection, where: CallFilter | None = None, by: str | None = None) -> list[StatsRow]:
    """`queries.stats` from the rollups: the same rows, percentiles from the histograms (see the module)."""
    where = where or CallFilter()
    if by in ("day", "hour"):
        raise ValueError("group by day or hour with rollup.series()")
    hist = histograms(conn, where, by)
    return [_row(r, hist) for r in totals(conn, where, by)]


def stats_and_total(conn: Connection, where: CallFilter, by: str) -> tuple[list[StatsRow], StatsRow | None]:
    """`stats` per `by` group and over all of them (None without calls), from the same two queries: `by` must put
    every call in exactly one group (not `tag`)."""
    return stats_from(totals(conn, where, by), histograms(conn, where, by))


def stats_from(rows: Sequence[Totals], hist: Histograms) -> tuple[list[StatsRow], StatsRow | None]:
    """`stats_and_total` from the groups' totals (every sum, in `totals`' order; e.g. `rollup.totals_of` a series)
    and their `histograms`, read by the caller (side by side, or with other figures)."""
    merged: Histograms = defaultdict(dict)
    for (_, metric), buckets in hist.items():
        into = merged[(None, metric)]
        for bucket, n in buckets.items():
            into[bucket] = into.get(bucket, 0) + n
    total = _row(add_up(rows), merged) if rows else None
    return [_row(r, hist) for r in rows], total
