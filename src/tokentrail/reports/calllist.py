"""The list of calls: one page of the calls a `CallFilter` selects, in a sort order, and their bounded count.

`calls` reads one page (by OFFSET or after a keyset cursor, `tokentrail.reports.paging`); `call_page` is what a
long list asks for: the count (exact up to a bound), then the page's rows read the cheapest way that count
allows. `tokentrail.reports.queries` re-exports `calls`, `count_calls`, `CallRow` and the sorts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal, get_args

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from tokentrail.reports.callfilter import CallFilter, Where, filter_conditions
from tokentrail.reports.content import last_user_text, preview
from tokentrail.reports.paging import COUNT_BOUND, Cursor, keyset_condition

__all__ = [
    "SORTS",
    "WALK_MIN",
    "CallPage",
    "CallRow",
    "Sort",
    "call_page",
    "calls",
    "count_calls",
    "order_by",
    "parse_sort",
    "sort_key",
]

Connection = psycopg.Connection[Any]
_MODEL: Final = sql.SQL("coalesce(c.request_model, c.response_model)")

Sort = Literal["time", "-time", "cost", "-cost", "latency", "-latency", "tokens", "-tokens"]
"""A sort key, descending with a leading `-`."""
SORTS: Final[tuple[str, ...]] = get_args(Sort)
_SORT_COLUMNS: Final[Mapping[str, sql.Composable]] = {
    "time": sql.SQL("c.start_time"),
    "cost": sql.SQL("coalesce(c.cost_usd, -1)"),  # costs are never negative: a call without one sorts below all
    "latency": sql.SQL("c.duration_ms"),
    "tokens": sql.SQL("(coalesce(c.input_tokens, 0) + coalesce(c.output_tokens, 0))"),
}


_SORT_INPUTS: Final = sql.SQL(
    "c.trace_id, c.span_id, c.start_time, c.cost_usd, c.duration_ms, c.input_tokens, c.output_tokens"
)


def parse_sort(text: str) -> Sort:
    value = text.strip()
    if value not in SORTS:
        raise ValueError(f"cannot sort by {text!r}; choose one of {', '.join(SORTS)}")
    return value  # type: ignore[return-value]


def sort_key(sort: str) -> sql.Composable:
    """The expression a `Sort` orders by (an index on it and start_time serves the order, migration 0007)."""
    return _SORT_COLUMNS[parse_sort(sort).removeprefix("-")]


def order_by(sort: str, *, reverse: bool = False, key: sql.Composable | None = None) -> sql.Composable:
    """The ORDER BY list of a `Sort` (ties broken newest first, then by span id: a total order, so pages are
    stable); `reverse` gives the exact opposite order (to read the rows before a cursor). A call without a cost
    sorts as the cheapest."""
    descending = sort.startswith("-") != reverse
    later = "ASC" if reverse else "DESC"
    return sql.SQL("{} {}, c.start_time {}, c.span_id {}").format(
        sort_key(sort) if key is None else key,
        sql.SQL("DESC" if descending else "ASC"),  # no key is NULL; the default NULLS side matches the indexes
        sql.SQL(later),
        sql.SQL("DESC" if reverse else "ASC"),
    )


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
    workflow_name: str | None
    call_type: str | None
    prompt_name: str | None
    prompt_version: str | None
    tags: list[str] | None
    tool_names: list[str] | None
    attempts: int | None
    prompt_preview: str | None
    """The first characters of the last user message's text, when content was captured."""


_CALL_COLUMNS: Final = sql.SQL(
    """c.start_time, c.trace_id, c.span_id, c.operation, {model} AS model,
       c.input_tokens, c.output_tokens, c.cost_usd, c.duration_ms, c.time_to_first_chunk_ms,
       c.status, c.error_type, c.error_message, c.user_id, c.session_id, c.service_name,
       c.workflow_name, c.call_type, c.prompt_name, c.prompt_version, c.tags, c.tool_names, c.attempts"""
).format(model=_MODEL)


def _conditions(where: CallFilter, requested: bool) -> Where:
    """`filter_conditions(where)`; with `requested`, the model filter as the requested model only (see
    `_requested_only`), which the model's indexes in sort order serve (migration 0009)."""
    if not requested or where.model is None:
        return filter_conditions(where)
    cond = filter_conditions(replace(where, model=None))
    return cond.add("c.request_model = %(requested_model)s", requested_model=where.model)


def _page(
    where: CallFilter, sort: str, cursor: Cursor | None, few: bool, walk: int | None, *, requested: bool = False
) -> tuple[sql.Composable, dict[str, Any]]:
    """The SELECT of one page's `llm_calls` rows (see `calls`) and its parameters."""
    if few and walk is not None:
        raise ValueError("read the selection whole (few) or walk the order, not both")
    seek = order_by(sort, reverse=cursor is not None and cursor.before)
    offset = 0 if cursor is not None else where.offset
    if walk is not None:
        prefix = Where().time_range(where.since, where.until)
        if where.status == "error" and sort.removeprefix("-") == "cost":
            prefix.add("c.status = 'error'")  # failed calls have their own index in cost order (migration 0007)
        if cursor is not None:
            keyset_condition(prefix, sort_key(sort), sort.startswith("-"), cursor)
        rest = _conditions(replace(where, since=None, until=None), requested)
        # The walk's key is an output column, so that the outer ORDER BY is seen to be the walk's order (no sort).
        page = sql.SQL(
            """SELECT * FROM (SELECT c.*, {key} AS sort_value FROM llm_calls AS c{prefix}
                             ORDER BY {seek} LIMIT %(walk)s) AS c{rest}
               ORDER BY {outer} LIMIT %(limit)s OFFSET %(offset)s"""
        ).format(
            key=sort_key(sort),
            prefix=prefix.clause(),
            rest=rest.clause(),
            seek=seek,
            outer=order_by(sort, reverse=cursor is not None and cursor.before, key=sql.SQL("c.sort_value")),
        )
        return page, {**prefix.params, **rest.params, "walk": walk, "limit": where.limit, "offset": offset}
    cond = _conditions(where, requested)
    if cursor is not None:
        keyset_condition(cond, sort_key(sort), sort.startswith("-"), cursor)
    plain = sql.SQL("SELECT * FROM llm_calls AS c{where} ORDER BY {seek} LIMIT %(limit)s OFFSET %(offset)s")
    if few:  # MATERIALIZED: the planner may not turn the ORDER BY ... LIMIT into an index walk
        plain = sql.SQL(
            """WITH m AS MATERIALIZED (SELECT {keys} FROM llm_calls AS c{where}),
                    p AS (SELECT * FROM m AS c ORDER BY {seek} LIMIT %(limit)s OFFSET %(offset)s)
               SELECT c.* FROM p JOIN llm_calls AS c USING (trace_id, span_id, start_time)"""
        )
    page = plain.format(keys=_SORT_INPUTS, where=cond.clause(), seek=seek)
    return page, {**cond.params, "limit": where.limit, "offset": offset}


def calls(
    conn: Connection,
    where: CallFilter,
    sort: str = "-time",
    cursor: Cursor | None = None,
    *,
    few: bool = False,
    walk: int | None = None,
) -> list[CallRow]:
    """The calls matching `where` in `sort` order (newest first by default): `where.limit` rows after skipping
    `where.offset`, or, given a `cursor` (`tokentrail.reports.paging`), the `where.limit` rows right after it
    (right before it with `cursor.before`; `where.offset` is then ignored).

    How the rows are found (`call_page` chooses): by default as the planner likes (walking the sort's index and
    stopping after the page, or reading the selection through the filters' indexes and sorting it); with `few`
    (a selection known to be small) always the latter; with `walk`, only the first `walk` calls of the range in
    sort order are examined (of the failed calls only, for failed calls by cost: they have an index in that
    order), so a filter that matches late in the order costs at most `walk` rows (fewer than `where.limit` rows
    then means: not found among those).
    """
    return _calls(conn, where, sort, cursor, few=few, walk=walk)


def _calls(
    conn: Connection,
    where: CallFilter,
    sort: str,
    cursor: Cursor | None,
    *,
    few: bool = False,
    walk: int | None = None,
    requested: bool = False,
) -> list[CallRow]:
    page, params = _page(where, sort, cursor, few, walk, requested=requested)
    query = sql.SQL(
        """
        SELECT {columns}, b.body AS input_body
        FROM ({page}) AS c
        LEFT JOIN content_blobs AS b ON b.sha256 = c.input_sha256
        ORDER BY {order}
        """
    ).format(columns=_CALL_COLUMNS, page=page, order=order_by(sort))
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, params).fetchall()
    result = []
    for row in rows:
        body = row.pop("input_body")
        text = last_user_text(body) if body is not None else None
        result.append(CallRow(**row, prompt_preview=preview(text) if text else None))
    return result


def _planned_walk(conn: Connection, where: CallFilter, sort: str, cursor: Cursor | None) -> bool:
    """Whether the planner would walk an index in sort order for this page (no Sort node: it stops after the
    page), rather than read the selection through the filters' indexes and sort it."""
    page, params = _page(where, sort, cursor, False, None)
    with conn.cursor() as cur:
        row = cur.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(page), params).fetchone()
    nodes = [row[0][0]["Plan"]] if row else []
    while nodes:
        node = nodes.pop()
        if node.get("Node Type") == "Sort":
            return False
        nodes.extend(node.get("Plans", ()))
    return True


def count_calls(conn: Connection, where: CallFilter, bound: int | None = None) -> int:
    """How many calls `where` selects (limit and offset aside): the total behind a page of `calls`. With `bound`,
    counting stops at `bound + 1` (a result over `bound` means "more than `bound`")."""
    cond = filter_conditions(where)
    query = sql.SQL("SELECT count(*) FROM llm_calls AS c{where}").format(where=cond.clause())
    if bound is not None:
        query = sql.SQL("SELECT count(*) FROM (SELECT FROM llm_calls AS c{where} LIMIT {n}) AS c").format(
            where=cond.clause(), n=sql.Literal(bound + 1)
        )
    with conn.cursor() as cur:
        row = cur.execute(query, cond.params).fetchone()
    return int(row[0]) if row else 0


WALK_MIN: Final = 5_000
"""The fewest calls `call_page` examines in sort order before it looks for another way to a large selection."""
WHOLE_MAX: Final = 100_000
"""The most calls `call_page` reads whole (and sorts) when walking the sort's index did not find the page."""
_WALK_PER_ROW: Final = 100
"""Calls examined per row wanted: a selection over the count bound (10,000 of a million-call range) spread
through the order has a row in every 100 calls or fewer."""


@dataclass(frozen=True)
class CallPage:
    rows: list[CallRow]
    """Up to `where.limit + 1` rows: the one beyond the page says another page follows (precedes, for a
    `before` cursor, where it comes first)."""
    total: int
    """The bounded count: exact when `exact`, else `bound + 1`."""
    exact: bool


def call_page(
    conn: Connection, where: CallFilter, sort: str = "-time", cursor: Cursor | None = None, bound: int = COUNT_BOUND
) -> CallPage:
    """A page of the calls list: the count, exact up to `bound`, then `where.limit + 1` rows.

    A selection counted in full (at most `bound` calls) is read whole through the filters' indexes. A larger one
    is read as the planner plans it, unless that is a walk of the sort's index: the walk is then cut off after
    `WALK_MIN` calls (100 a row for a longer page or a deep OFFSET), since the planner cannot know that the
    selection's rows may come only late in the order (errors sorted by cost: they have none). A walk cut off
    before the page's end gives way to reading the selection whole if it holds at most `WHOLE_MAX` calls, else to
    walking to the page's end.
    """
    total = count_calls(conn, where, bound=bound)
    exact = total <= bound
    wanted = replace(where, limit=where.limit + 1)
    if exact:
        return CallPage(calls(conn, wanted, sort, cursor, few=True), total, exact)
    # As the requested model, the model's own index in sort order passes only the model's calls.
    requested = _requested_only(conn, where, sort)
    if requested or not _planned_walk(conn, wanted, sort, cursor):
        return CallPage(_calls(conn, wanted, sort, cursor, requested=requested), total, exact)
    reach = 0 if cursor is not None else where.offset
    rows = calls(conn, wanted, sort, cursor, walk=max(WALK_MIN, (reach + wanted.limit) * _WALK_PER_ROW))
    if len(rows) < wanted.limit:
        few = count_calls(conn, where, bound=WHOLE_MAX) <= WHOLE_MAX
        rows = calls(conn, wanted, sort, cursor, few=few)
    return CallPage(rows, total, exact)


def _requested_only(conn: Connection, where: CallFilter, sort: str) -> bool:
    """Whether the model filter of a page sorted by cost, latency or tokens can be read as "requested this model":
    no call of the range's days answered with the model after requesting another (the daily rollup says so). A
    model's calls may all come late in such an order (the cheapest model's, most expensive first); the model's
    index in that order (migration 0009) then finds them directly."""
    if where.model is None or sort.removeprefix("-") == "time":
        return False
    cond = Where()
    cond.add("r.grain = 'day'")
    if where.since is not None:
        cond.add("r.period >= date_trunc('day', %(since)s::timestamptz, 'UTC')", since=where.since)
    if where.until is not None:
        cond.add("r.period < %(until)s", until=where.until)
    cond.add("r.response_model = %(model)s AND r.request_model IS DISTINCT FROM %(model)s", model=where.model)
    query = sql.SQL("SELECT NOT EXISTS (SELECT FROM llm_rollup AS r{})").format(cond.clause())
    with conn.cursor() as cur:
        row = cur.execute(query, cond.params).fetchone()
    return bool(row and row[0])
