"""The web UI's figures from the rollups (`llm_rollup*`, schema version 6), exact where `queries` is exact.

A range is cut into segments: whole UTC days read from the day rows, the whole hours around them from the hour
rows, and the partial hours at its ends from `llm_calls` itself (its start-time index), so counts, tokens and
cost are the same as a query over every call. A filter that a rollup's dimensions cannot answer (text search,
minimum cost, a session, ...) makes every segment read `llm_calls`: the results are the same, only slower.

Percentiles come from the latency histograms (`reports.rollupstats`). The CLI's `stats` stays exact (every call).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

from psycopg import sql
from psycopg.rows import dict_row

from tokentrail.reports.callfilter import CallFilter, Where, filter_conditions
from tokentrail.reports.queries import ATTR_GROUPING_PREFIX, Connection, grouping_key, parse_grouping
from tokentrail.reports.rollupsql import (
    HOUR,
    NAMES,
    SERIES_NAMES,
    Family,
    Segment,
    measures,
    negated,
    outer_sums,
    raw_measures,
    segments,
)

__all__ = [
    "BY_COST",
    "EPOCH",
    "LATENCY",
    "MAIN",
    "RAW",
    "SUMS",
    "USERS",
    "RollupQuery",
    "Totals",
    "collapse",
    "family_for",
    "read_totals",
    "remainder",
    "series",
    "totals",
    "totals_by",
    "totals_of",
    "used_fields",
]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
DAY: Final = timedelta(days=1)

MAIN: Final = Family(
    "llm_rollup",
    frozenset({"status", "model", "service", "workflow", "call_type", "operation", "error_type", "prompt"}),
)
USERS: Final = Family("llm_rollup_users", frozenset({"status", "model", "user", "operation"}))
TAGS: Final = Family("llm_rollup_tags", frozenset({"status", "model"}))
ATTRS: Final = Family("llm_rollup_attrs", frozenset({"status", "model"}))
LATENCY: Final = Family("llm_rollup_latency", frozenset({"status", "model", "prompt"}))
RAW: Final = Family("llm_calls", frozenset())

_MAIN_GROUPINGS: Final = frozenset(
    {None, "model", "service", "workflow", "call-type", "operation", "error-type", "prompt-version"}
)
_NOT_FILTERS: Final = frozenset({"since", "until", "limit", "offset"})


def used_fields(where: CallFilter) -> frozenset[str]:
    """The criteria `where` sets besides its time range (and paging)."""
    used = set()
    for field in fields(where):
        if field.name in _NOT_FILTERS:
            continue
        value = getattr(where, field.name)
        if value is not None and value != ():
            used.add(field.name)
    return frozenset(used)


def family_for(where: CallFilter, by: str | None) -> Family:
    """The rollup that answers `where` grouped `by`, or RAW (llm_calls) when none does."""
    used = used_fields(where)
    if by in _MAIN_GROUPINGS and used <= MAIN.fields:
        return MAIN
    if by in (None, "model", "user") and used <= USERS.fields:
        return USERS
    if by == "tag" and used <= TAGS.fields:
        return TAGS
    if by is not None and by.startswith(ATTR_GROUPING_PREFIX) and used <= ATTRS.fields:
        return ATTRS
    return RAW


@dataclass(frozen=True)
class Totals:
    """The sums of one group (and bucket, for a series): what the charts and lists show."""

    bucket: datetime | None
    key: str | None
    calls: int
    errors: int
    retried: int
    cost_usd: Decimal
    cost_calls: int
    input_tokens: int
    counted_tokens: int
    output_tokens: int
    output_calls: int
    cache_read_tokens: int
    cache_read_calls: int
    cache_write_tokens: int
    reasoning_tokens: int
    duration_ms: float
    ttfc_calls: int
    ttfc_ms: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


class RollupQuery:
    """The UNION ALL of one query's segments, each pre-aggregated per (bucket, key), with its parameters."""

    def __init__(
        self,
        where: CallFilter,
        family: Family,
        by: str | None,
        key: sql.Composable | None = None,
        extra: Sequence[sql.Composable] = (),
        *,
        names: tuple[str, ...] = NAMES,
        keys: Sequence[str | None] | None = None,
    ) -> None:
        self.where = where
        self.names = names
        self.family = family
        self.by = parse_grouping(by) if by is not None else None
        base = replace(where, since=None, until=None)
        self.raw_cond = filter_conditions(base)
        self.raw_key, self.raw_join = grouping_key(self.by, self.raw_cond)
        self.cond = filter_conditions(base)
        self.params: dict[str, Any] = {**self.raw_cond.params, **self.cond.params}
        self.key = self._rollup_key()
        if key is not None:  # a key of columns that llm_calls and the rollup share
            self.key = self.raw_key = key
        self.raw_cond.conditions.extend(extra)
        self.cond.conditions.extend(extra)
        if keys is not None:  # only these groups (not for attr:KEY, whose NULL group is a difference)
            self.params["only_keys"] = [k for k in keys if k is not None]
            nulls = sql.SQL(" OR {} IS NULL") if None in keys else sql.SQL("")
            for cond, expr in ((self.raw_cond, self.raw_key), (self.cond, self.key)):
                only = sql.SQL("({} = ANY(%(only_keys)s)").format(expr) + nulls.format(expr) + sql.SQL(")")
                cond.conditions.append(only)

    def _rollup_key(self) -> sql.Composable:
        by = self.by
        if self.family is RAW or by is None:
            return self.raw_key
        if by == "user":
            return sql.SQL("c.user_id")
        if by == "tag":
            return sql.SQL("c.tag")
        if by.startswith(ATTR_GROUPING_PREFIX):
            self.params["rollup_attr_key"] = by.removeprefix(ATTR_GROUPING_PREFIX)
            return sql.SQL("c.attr_value")
        key, _ = grouping_key(by, Where())
        return key

    def branches(self, bucket: sql.Composable | None, spans: Sequence[Segment]) -> sql.Composable:
        parts = []
        for index, seg in enumerate(spans):
            if seg.grain is None or self.family is RAW:
                parts.append(self._raw_branch(bucket, self.range("c.start_time", seg, index)))
            else:
                period = [sql.SQL("c.grain = {}").format(sql.Literal(seg.grain)), *self.range("c.period", seg, index)]
                parts.extend(self._rollup_branches(bucket, period))
        return sql.SQL(" UNION ALL ").join(parts)

    def range(self, column: str, seg: Segment, index: int) -> list[sql.Composable]:
        """`lo <= column < hi` of a segment (an open end: no condition), its bounds added to the parameters."""
        out: list[sql.Composable] = []
        for bound, op, value in (("lo", ">=", seg.lo), ("hi", "<", seg.hi)):
            if value is not None:
                name = f"seg{index}_{bound}"
                self.params[name] = value
                out.append(sql.SQL("{} {} {}").format(sql.SQL(column), sql.SQL(op), sql.Placeholder(name)))
        return out

    def _raw_branch(self, bucket: sql.Composable | None, span: list[sql.Composable]) -> sql.Composable:
        where = Where()
        where.conditions = [*span, *self.raw_cond.conditions]
        when = (
            sql.SQL("date_bin(%(bucket)s, c.start_time, %(origin)s)")
            if bucket is not None
            else sql.SQL("NULL::timestamptz")
        )
        return sql.SQL(
            "SELECT {when} AS bucket, {key} AS key, {m} FROM llm_calls AS c{join}{where} GROUP BY 1, 2"
        ).format(when=when, key=self.raw_key, m=raw_measures(self.names), join=self.raw_join, where=where.clause())

    def _rollup_branches(self, bucket: sql.Composable | None, period: list[sql.Composable]) -> list[sql.Composable]:
        when = (
            sql.SQL("date_bin(%(bucket)s, c.period, %(origin)s)")
            if bucket is not None
            else sql.SQL("NULL::timestamptz")
        )
        where = Where()
        where.conditions = [*period, *self.cond.conditions]
        attr = self.by is not None and self.by.startswith(ATTR_GROUPING_PREFIX)
        if attr:
            where.add("c.attr_key = %(rollup_attr_key)s")
        template = "SELECT {when} AS bucket, {key} AS key, {m} FROM {table} AS c{where} GROUP BY 1, 2"
        m = measures(self.names)
        out: list[sql.Composable] = [
            sql.SQL(template).format(
                when=when, key=self.key, m=m, table=sql.Identifier(self.family.table), where=where.clause()
            )
        ]
        if attr:
            # Calls without the attribute: every call (llm_rollup) minus those with a value.
            plain = Where()
            plain.conditions = [*period, *self.cond.conditions]
            out.append(
                sql.SQL(
                    "SELECT {when} AS bucket, NULL::text AS key, {m} FROM llm_rollup AS c{where} GROUP BY 1, 2"
                ).format(when=when, m=m, where=plain.clause())
            )
            out.append(
                sql.SQL(
                    "SELECT {when} AS bucket, NULL::text AS key, {m} FROM llm_rollup_attrs AS c{where} GROUP BY 1, 2"
                ).format(when=when, m=negated(self.names), where=where.clause())
            )
        return out


SUMS: Final = outer_sums(NAMES)
_ZEROS: Final = dict.fromkeys(NAMES, 0)


def read_totals(
    conn: Connection,
    where: CallFilter,
    by: str | None,
    *,
    bucket: timedelta | None = None,
    origin: datetime | None = None,
    family: Family | None = None,
    order: sql.Composable | None = None,
    limit: int | None = None,
    key: sql.Composable | None = None,
    extra: Sequence[sql.Composable] = (),
    params: Mapping[str, Any] | None = None,
    names: tuple[str, ...] = NAMES,
    keys: Sequence[str | None] | None = None,
) -> list[Totals]:
    family = family or family_for(where, by)
    query = RollupQuery(where, family, by, key, extra, names=names, keys=keys)
    query.params.update(params or {})
    hours = days = family is not RAW
    if bucket is not None:
        origin = origin or where.since or EPOCH
        hours = hours and bucket % HOUR == timedelta(0) and (origin - EPOCH) % HOUR == timedelta(0)
        days = days and bucket % DAY == timedelta(0) and (origin - EPOCH) % DAY == timedelta(0)
        query.params.update(bucket=bucket, origin=origin)
    spans = segments(where.since, where.until, hours=hours, days=days)
    union = query.branches(sql.SQL("bucket") if bucket is not None else None, spans)
    text = sql.SQL("SELECT s.bucket, s.key, {sums} FROM ({union}) AS s GROUP BY 1, 2 HAVING sum(s.calls) > 0").format(
        sums=outer_sums(names), union=union
    )
    text += sql.SQL(" ORDER BY {}").format(order or sql.SQL("1, 2 NULLS LAST"))
    if limit is not None:
        text += sql.SQL(" LIMIT {}").format(sql.Literal(limit))
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(text, query.params, prepare=False).fetchall()
    return [Totals(**{**_ZEROS, **row}) for row in rows]


BY_COST: Final = sql.SQL("cost_usd DESC, calls DESC, 2 ASC NULLS LAST")


def totals(
    conn: Connection,
    where: CallFilter,
    by: str | None = None,
    limit: int | None = None,
    *,
    names: tuple[str, ...] = NAMES,
) -> list[Totals]:
    """Sums per `by` group (as `queries.stats` groups), by cost then calls descending; the first `limit`. With
    `names`, only those sums are read (the others are 0): a top-N chart needs `calls` and `cost_usd`."""
    return read_totals(conn, where, by, order=BY_COST, limit=limit, names=names)


def totals_by(
    conn: Connection,
    where: CallFilter,
    key: sql.Composable,
    extra: Sequence[sql.Composable] = (),
    params: Mapping[str, Any] | None = None,
) -> list[Totals]:
    """Sums per `key`, an expression of columns that llm_rollup and llm_calls share (`c.prompt_version`)."""
    family = MAIN if used_fields(where) <= MAIN.fields else RAW
    return read_totals(conn, where, None, family=family, order=BY_COST, key=key, extra=extra, params=params)


def series(
    conn: Connection,
    where: CallFilter,
    bucket: timedelta,
    by: str | None = None,
    *,
    origin: datetime | None = None,
    keys: Sequence[str | None] | None = None,
    names: tuple[str, ...] = SERIES_NAMES,
) -> list[Totals]:
    """Sums per `bucket` (aligned on `origin`, default `where.since`) and `by` group, in time then key order; with
    `keys`, of those groups only (not for `attr:KEY`).

    Rollup rows are used where the buckets hold whole hours (days): buckets of whole hours aligned on an hour.
    Only the charts' sums are read by default (`SERIES_NAMES`: calls, errors, cost, tokens; the others are 0);
    with `names=NAMES` every sum, so that `totals_of` gives the groups' totals from the same query."""
    if keys is not None and by is not None and by.startswith(ATTR_GROUPING_PREFIX):
        raise ValueError("keys cannot select attr:KEY groups")
    return read_totals(conn, where, by, bucket=bucket, origin=origin, names=names, keys=keys)


def remainder(whole: Sequence[Totals], parts: Sequence[Totals], key: str) -> list[Totals]:
    """Per bucket, `whole` (one point a bucket) minus the `parts` points of that bucket, as `key`'s points."""
    taken: dict[datetime | None, list[Totals]] = defaultdict(list)
    for point in parts:
        taken[point.bucket].append(point)
    out = []
    for point in whole:
        values = {n: getattr(point, n) - sum((getattr(p, n) for p in taken[point.bucket]), start=0) for n in NAMES}
        if values["calls"]:
            out.append(Totals(bucket=point.bucket, key=key, **values))
    return out


def collapse(points: Sequence[Totals]) -> list[Totals]:
    """Points of a grouping that puts every call in one group (not `tag`) summed per bucket, key None."""
    by_bucket: dict[datetime | None, list[Totals]] = defaultdict(list)
    for point in points:
        by_bucket[point.bucket].append(point)
    return [add_up(group, bucket) for bucket, group in by_bucket.items()]


def totals_of(points: Sequence[Totals]) -> list[Totals]:
    """The points of a series summed per group over its buckets, ordered as `totals` orders them (cost, then calls
    descending, then key, None last): the same rows as `totals` over the series' range."""
    by_key: dict[str | None, list[Totals]] = defaultdict(list)
    for point in points:
        by_key[point.key].append(point)
    rows = [replace(add_up(group), key=key) for key, group in by_key.items()]
    rows.sort(key=lambda r: (r.key is None, r.key or ""))
    rows.sort(key=lambda r: (r.cost_usd, r.calls), reverse=True)
    return rows


def add_up(rows: Sequence[Totals], bucket: datetime | None = None) -> Totals:
    """The sums of `rows` as one row (key None)."""
    values = {name: sum((getattr(r, name) for r in rows), start=0) for name in NAMES}
    return Totals(bucket=bucket, key=None, **values)
