"""The read side's queries over `llm_calls`: stats, the call list and prompt-version comparison (SELECT only).

Functions take an open psycopg connection and return typed rows; formatting belongs to the caller
(`tokentrail.reports.render`). Time ranges are half-open, `since <= start_time < until`, on the call's start time;
`None` leaves a side open. Grouping identifiers come from a fixed mapping: user input is only ever passed as a
bound parameter, never spliced into SQL.

Latencies are in milliseconds; percentiles are continuous (`percentile_cont`), as in the SQL views.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import psycopg
from psycopg import sql
from psycopg.rows import class_row, dict_row

from tokentrail.reports.content import last_user_text, preview
from tokentrail.reports.filters import check_range

if TYPE_CHECKING:
    from typing_extensions import LiteralString

__all__ = [
    "GROUPINGS",
    "CallFilter",
    "CallRow",
    "Connection",
    "Grouping",
    "PromptVersionRow",
    "StatsRow",
    "calls",
    "compare_prompts",
    "stats",
]

Connection = psycopg.Connection[Any]

Grouping = Literal["day", "model", "user", "session", "service", "call-type", "prompt-version", "tag"]
GROUPINGS: Final[tuple[str, ...]] = get_args(Grouping)

_MODEL: Final = sql.SQL("coalesce(c.request_model, c.response_model)")
_GROUP_KEYS: Final[Mapping[str, sql.Composable]] = {
    "day": sql.SQL("to_char(c.start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
    "model": _MODEL,
    "user": sql.SQL("c.user_id"),
    "session": sql.SQL("c.session_id"),
    "service": sql.SQL("c.service_name"),
    "call-type": sql.SQL("c.operation"),
    "prompt-version": sql.SQL(
        "CASE WHEN c.prompt_name IS NOT NULL OR c.prompt_version IS NOT NULL "
        "THEN coalesce(c.prompt_name, '?') || '@' || coalesce(c.prompt_version, '?') END"
    ),
    "tag": sql.SQL("t.tag"),
}
# A call with tags counts once under each distinct tag (the first occurrence of a repeated tag is kept); a call
# without tags once under NULL.
_TAG_JOIN: Final = sql.SQL(" LEFT JOIN LATERAL unnest(c.tags) WITH ORDINALITY AS t(tag, n) ON true")
_TAG_FIRST: Final = "(t.n IS NULL OR array_position(c.tags, t.tag) = t.n)"


# --- stats ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsRow:
    """Aggregates of one group (or of everything, with `key` None and no grouping)."""

    key: str | None
    calls: int
    errors: int
    error_rate: float
    input_tokens: int
    """Including cache reads and writes, as on the span."""
    output_tokens: int
    cache_read_tokens: int
    cache_hit_ratio: float | None
    """cache_read_tokens / input_tokens; None when no input tokens were recorded."""
    cost_usd: Decimal
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    ttfc_p50_ms: float | None
    """Time to first chunk (streaming calls only); None when the group had none."""
    ttfc_p95_ms: float | None


class _Where:
    """WHERE conditions with their bound parameters (named placeholders; values never touch the SQL text)."""

    def __init__(self) -> None:
        self.conditions: list[sql.Composable] = []
        self.params: dict[str, Any] = {}

    def add(self, condition: LiteralString, **params: Any) -> None:
        self.conditions.append(sql.SQL(condition))
        self.params.update(params)

    def time_range(self, since: datetime | None, until: datetime | None) -> _Where:
        if since is not None:
            self.add("c.start_time >= %(since)s", since=since)
        if until is not None:
            self.add("c.start_time < %(until)s", until=until)
        return self

    def clause(self) -> sql.Composable:
        if not self.conditions:
            return sql.SQL("")
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(self.conditions)


def stats(
    conn: Connection, since: datetime | None, until: datetime | None = None, by: Grouping | None = None
) -> list[StatsRow]:
    """Calls, tokens, cost, error rate, cache hit ratio and latency percentiles, per `by` group (or overall).

    Rows come by day ascending for `day`, otherwise by cost (then calls) descending. Empty when no call matched.
    """
    check_range(since, until)
    if by is not None and by not in _GROUP_KEYS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}")
    key = _GROUP_KEYS[by] if by is not None else sql.SQL("NULL::text")
    where = _Where().time_range(since, until)
    if by == "tag":
        where.add(_TAG_FIRST)
    order = sql.SQL("key") if by == "day" else sql.SQL("cost_usd DESC, calls DESC, key ASC NULLS LAST")
    query = sql.SQL(
        """
        SELECT {key} AS key,
               count(*) AS calls,
               count(*) FILTER (WHERE c.status = 'error') AS errors,
               (count(*) FILTER (WHERE c.status = 'error'))::float8 / count(*) AS error_rate,
               coalesce(sum(c.input_tokens), 0)::bigint AS input_tokens,
               coalesce(sum(c.output_tokens), 0)::bigint AS output_tokens,
               coalesce(sum(c.cache_read_tokens), 0)::bigint AS cache_read_tokens,
               sum(c.cache_read_tokens)::float8 / nullif(sum(c.input_tokens), 0) AS cache_hit_ratio,
               coalesce(sum(c.cost_usd), 0) AS cost_usd,
               percentile_cont(0.50) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p95_ms,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p99_ms,
               percentile_cont(0.50) WITHIN GROUP (ORDER BY c.time_to_first_chunk_ms) AS ttfc_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY c.time_to_first_chunk_ms) AS ttfc_p95_ms
        FROM llm_calls AS c{join}{where}
        GROUP BY 1
        ORDER BY {order}
        """
    ).format(
        key=key,
        join=_TAG_JOIN if by == "tag" else sql.SQL(""),
        where=where.clause(),
        order=order,
    )
    with conn.cursor(row_factory=class_row(StatsRow)) as cur:
        return cur.execute(query, where.params).fetchall()


# --- calls ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallFilter:
    """Which calls `calls()` lists. Every given criterion must hold; `model` matches requested or answering model."""

    since: datetime | None = None
    until: datetime | None = None
    status: Literal["ok", "error"] | None = None
    model: str | None = None
    user: str | None = None
    session: str | None = None
    tag: str | None = None
    min_cost: Decimal | None = None
    min_latency_ms: float | None = None
    limit: int = 50

    def __post_init__(self) -> None:
        check_range(self.since, self.until)
        if self.limit < 1:
            raise ValueError("limit must be at least 1")
        if self.status not in (None, "ok", "error"):
            raise ValueError("status must be 'ok' or 'error'")


@dataclass(frozen=True)
class CallRow:
    start_time: datetime
    trace_id: str
    span_id: str
    operation: str
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    duration_ms: float
    time_to_first_chunk_ms: float | None
    status: str
    error_type: str | None
    error_message: str | None
    user_id: str | None
    session_id: str | None
    service_name: str | None
    prompt_preview: str | None
    """The first characters of the last user message's text, when content was captured."""


def calls(conn: Connection, where: CallFilter) -> list[CallRow]:
    """The calls matching `where`, newest first, at most `where.limit`."""
    cond = _Where().time_range(where.since, where.until)
    if where.status is not None:
        cond.add("c.status = %(status)s", status=where.status)
    if where.model is not None:
        cond.add("(c.request_model = %(model)s OR c.response_model = %(model)s)", model=where.model)
    if where.user is not None:
        cond.add("c.user_id = %(user)s", user=where.user)
    if where.session is not None:
        cond.add("c.session_id = %(session)s", session=where.session)
    if where.tag is not None:
        cond.add("%(tag)s = ANY(c.tags)", tag=where.tag)
    if where.min_cost is not None:
        cond.add("c.cost_usd >= %(min_cost)s", min_cost=where.min_cost)
    if where.min_latency_ms is not None:
        cond.add("c.duration_ms >= %(min_latency_ms)s", min_latency_ms=where.min_latency_ms)
    query = sql.SQL(
        """
        SELECT c.start_time, c.trace_id, c.span_id, c.operation, {model} AS model,
               c.input_tokens, c.output_tokens, c.cost_usd, c.duration_ms, c.time_to_first_chunk_ms,
               c.status, c.error_type, c.error_message, c.user_id, c.session_id, c.service_name,
               b.body AS input_body
        FROM llm_calls AS c
        LEFT JOIN content_blobs AS b ON b.sha256 = c.input_sha256{where}
        ORDER BY c.start_time DESC, c.span_id
        LIMIT %(limit)s
        """
    ).format(model=_MODEL, where=cond.clause())
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, {**cond.params, "limit": where.limit}).fetchall()
    result = []
    for row in rows:
        body = row.pop("input_body")
        text = last_user_text(body) if body is not None else None
        result.append(CallRow(**row, prompt_preview=preview(text) if text else None))
    return result


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
    where = _Where()
    where.add("c.prompt_name = %(prompt_name)s", prompt_name=prompt_name)
    where.time_range(since, until)
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
