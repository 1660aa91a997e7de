"""The read side's queries over `llm_calls`: stats, the call list and prompt-version comparison (SELECT only).

The call list lives in `tokentrail.reports.calllist` and is re-exported here (`calls`, `count_calls`, the sorts).

Functions take an open psycopg connection and a `CallFilter` (`tokentrail.reports.callfilter`) and return typed
rows; formatting belongs to the caller (`tokentrail.reports.render`, the web UI). Time ranges are half-open,
`since <= start_time < until`, on the call's start time. Grouping and sort identifiers come from fixed mappings:
user input is only ever passed as a bound parameter, never spliced into SQL.

Latencies are in milliseconds; percentiles are continuous (`percentile_cont`), as in the SQL views. Token counting
(`count_tokens`) is free: its tokens are left out of the token sums and counted apart (`counted_tokens`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal, get_args

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from tokentrail.contract import semconv
from tokentrail.reports.callfilter import CallFilter, Where, filter_conditions, parse_attr_key
from tokentrail.reports.calllist import SORTS, CallRow, Sort, calls, count_calls, order_by, parse_sort, sort_key
from tokentrail.reports.filters import check_range

__all__ = [
    "GROUPINGS",
    "SORTS",
    "CallFilter",
    "CallRow",
    "Connection",
    "Grouping",
    "PromptVersionRow",
    "Sort",
    "StatsRow",
    "calls",
    "compare_prompts",
    "count_calls",
    "grouping_key",
    "order_by",
    "parse_grouping",
    "parse_sort",
    "sort_key",
    "stats",
]

Connection = psycopg.Connection[Any]

Grouping = Literal[
    "day",
    "hour",
    "model",
    "user",
    "session",
    "service",
    "workflow",
    "call-type",
    "operation",
    "error-type",
    "prompt-version",
    "tag",
    "tool",
]
"""The fixed groupings; `attr:KEY` (an app attribute, `tokentrail.attributes(KEY=...)`) is accepted besides."""
GROUPINGS: Final[tuple[str, ...]] = get_args(Grouping)
ATTR_GROUPING_PREFIX: Final = "attr:"

_MODEL: Final = sql.SQL("coalesce(c.request_model, c.response_model)")
_GROUP_KEYS: Final[Mapping[str, sql.Composable]] = {
    "day": sql.SQL("to_char(c.start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
    "hour": sql.SQL("to_char(date_trunc('hour', c.start_time AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:00')"),
    "model": _MODEL,
    "user": sql.SQL("c.user_id"),
    "session": sql.SQL("c.session_id"),
    "service": sql.SQL("c.service_name"),
    "workflow": sql.SQL("c.workflow_name"),
    "call-type": sql.SQL("c.call_type"),
    "operation": sql.SQL("c.operation"),
    "error-type": sql.SQL("CASE WHEN c.status = 'error' THEN coalesce(c.error_type, '_OTHER') END"),
    "prompt-version": sql.SQL(
        "CASE WHEN c.prompt_name IS NOT NULL OR c.prompt_version IS NOT NULL "
        "THEN coalesce(c.prompt_name, '?') || '@' || coalesce(c.prompt_version, '?') END"
    ),
    "tag": sql.SQL("u.item"),
    "tool": sql.SQL("u.item"),
}
# A call with tags (tools) counts once under each distinct one (the first occurrence of a repeat is kept); a call
# without any once under NULL.
_UNNEST_COLUMN: Final = {"tag": sql.SQL("c.tags"), "tool": sql.SQL("c.tool_names")}
_ATTR_KEY: Final = sql.SQL("c.attributes ->> %(group_attr)s")
_CHRONOLOGICAL: Final = frozenset({"day", "hour"})


def parse_grouping(text: str) -> str:
    """A grouping as typed: one of `GROUPINGS` or `attr:KEY`; raises ValueError naming the choices."""
    value = text.strip()
    if value in GROUPINGS:
        return value
    if value.startswith(ATTR_GROUPING_PREFIX):
        return ATTR_GROUPING_PREFIX + parse_attr_key(value.removeprefix(ATTR_GROUPING_PREFIX))
    raise ValueError(f"cannot group by {text!r}; choose one of {', '.join(GROUPINGS)} or attr:KEY")


def grouping_key(by: str | None, where: Where) -> tuple[sql.Composable, sql.Composable]:
    """The key expression and the join a grouping needs; adds its conditions and parameters to `where`."""
    if by is None:
        return sql.SQL("NULL::text"), sql.SQL("")
    by = parse_grouping(by)
    if by.startswith(ATTR_GROUPING_PREFIX):
        key = by.removeprefix(ATTR_GROUPING_PREFIX)
        where.params["group_attr"] = semconv.APP_ATTRIBUTE_PREFIX + key
        return _ATTR_KEY, sql.SQL("")
    column = _UNNEST_COLUMN.get(by)
    if column is None:
        return _GROUP_KEYS[by], sql.SQL("")
    where.add(sql.SQL("(u.n IS NULL OR array_position({col}, u.item) = u.n)").format(col=column))
    join = sql.SQL(" LEFT JOIN LATERAL unnest({col}) WITH ORDINALITY AS u(item, n) ON true").format(col=column)
    return _GROUP_KEYS[by], join


# --- stats ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsRow:
    """Aggregates of one group (or of everything, with `key` None and no grouping)."""

    key: str | None
    calls: int
    errors: int
    error_rate: float
    retried: int
    """Calls the SDK retried (more than one HTTP attempt)."""
    input_tokens: int
    """Including cache reads and writes, as on the span; token counting (count_tokens) left out."""
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_hit_ratio: float | None
    """cache_read_tokens / input_tokens; None when no input tokens were recorded."""
    counted_tokens: int
    """Tokens counted by count_tokens calls (free; not in input_tokens)."""
    cost_usd: Decimal
    latency_mean_ms: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    ttfc_p50_ms: float | None
    """Time to first chunk (streaming calls only); None when the group had none."""
    ttfc_p95_ms: float | None


_STATS_COLUMNS: Final = sql.SQL(
    """
    count(*) AS calls,
    count(*) FILTER (WHERE c.status = 'error') AS errors,
    (count(*) FILTER (WHERE c.status = 'error'))::float8 / count(*) AS error_rate,
    count(*) FILTER (WHERE c.attempts > 1) AS retried,
    coalesce(sum(c.input_tokens) FILTER (WHERE c.operation <> 'count_tokens'), 0)::bigint AS input_tokens,
    coalesce(sum(c.output_tokens), 0)::bigint AS output_tokens,
    coalesce(sum(c.cache_read_tokens), 0)::bigint AS cache_read_tokens,
    coalesce(sum(c.cache_write_tokens), 0)::bigint AS cache_write_tokens,
    sum(c.cache_read_tokens)::float8
        / nullif(sum(c.input_tokens) FILTER (WHERE c.operation <> 'count_tokens'), 0) AS cache_hit_ratio,
    coalesce(sum(c.input_tokens) FILTER (WHERE c.operation = 'count_tokens'), 0)::bigint AS counted_tokens,
    coalesce(sum(c.cost_usd), 0) AS cost_usd,
    avg(c.duration_ms)::float8 AS latency_mean_ms,
    percentile_cont(0.50) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p50_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p95_ms,
    percentile_cont(0.99) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p99_ms,
    percentile_cont(0.50) WITHIN GROUP (ORDER BY c.time_to_first_chunk_ms) AS ttfc_p50_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY c.time_to_first_chunk_ms) AS ttfc_p95_ms
    """
)


def stats(conn: Connection, where: CallFilter | None = None, by: str | None = None) -> list[StatsRow]:
    """Calls, tokens, cost, errors, retries, cache hit ratio and latency (mean, percentiles) of the calls `where`
    selects, per `by` group (a `GROUPINGS` value or `attr:KEY`) or overall.

    `where.limit` and `.offset` do not apply (every group is returned). Rows come in time order for `day` and
    `hour`, otherwise by cost (then calls) descending. Empty when no call matched.
    """
    cond = filter_conditions(where or CallFilter())
    key, join = grouping_key(by, cond)
    chronological = by in _CHRONOLOGICAL
    order = sql.SQL("key") if chronological else sql.SQL("cost_usd DESC, calls DESC, key ASC NULLS LAST")
    template = sql.SQL("SELECT {key} AS key, {columns} FROM llm_calls AS c{join}{where} GROUP BY 1 ORDER BY {order}")
    query = template.format(key=key, columns=_STATS_COLUMNS, join=join, where=cond.clause(), order=order)
    with conn.cursor(row_factory=class_row(StatsRow)) as cur:
        return cur.execute(query, cond.params).fetchall()


# --- prompt versions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptVersionRow:
    version: str | None
    calls: int
    success_rate: float | None
    """Share of calls with status ok; None for a requested version without calls."""
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    mean_cost_usd: Decimal | None
    mean_output_tokens: float | None


def compare_prompts(
    conn: Connection,
    prompt_name: str,
    versions: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PromptVersionRow]:
    """Side by side figures per version of one prompt (`tokentrail.prompt.name` / `.version`).

    With `versions`, exactly those in that order (zero rows of calls included, so a missing version shows);
    otherwise every version seen, in order of first use.
    """
    check_range(since, until)
    where = Where().add("c.prompt_name = %(prompt_name)s", prompt_name=prompt_name).time_range(since, until)
    if versions:
        where.add("c.prompt_version = ANY(%(versions)s)", versions=list(versions))
    query = sql.SQL(
        """
        SELECT c.prompt_version AS version,
               count(*) AS calls,
               avg((c.status = 'ok')::int)::float8 AS success_rate,
               percentile_cont(0.50) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p95_ms,
               avg(c.cost_usd) AS mean_cost_usd,
               avg(c.output_tokens)::float8 AS mean_output_tokens
        FROM llm_calls AS c{where}
        GROUP BY 1
        ORDER BY min(c.start_time), 1
        """
    ).format(where=where.clause())
    with conn.cursor(row_factory=class_row(PromptVersionRow)) as cur:
        found = cur.execute(query, where.params).fetchall()
    if not versions:
        return found
    by_version = {row.version: row for row in found}
    return [by_version.get(v) or PromptVersionRow(v, 0, None, None, None, None, None) for v in dict.fromkeys(versions)]
