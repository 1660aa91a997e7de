"""The write step that keeps one `llm_calls` row per API call when several instrumentations report it.

Within the store's transaction, for the traces of a batch's LLM rows:

1. `lock_traces` takes a transaction-scoped advisory lock per trace (in key order, so writers cannot deadlock on
   them): two sink replicas writing two reports of one call serialise here, and the second sees the first.
2. `traces_to_merge` finds the traces whose calls come from more than one source, counting what is stored and what
   the batch brings. Every other trace (nearly all, for an application instrumented once) takes the plain path:
   its rows go straight into `llm_calls`, as before.
3. For the others, every report is kept in `llm_call_reports` (one row per LLM span, as normalised; the single
   rows already in `llm_calls` are copied there first), and `recompute` rebuilds the trace's `llm_calls` rows from
   all of its reports with `merge.merge_calls`. Rebuilding from the full set makes the result independent of
   arrival order and idempotent under retries.

Only reports within a day of the batch's calls are considered (the reports of one call are seconds apart); that
bound lets Postgres prune partitions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg import sql

from tokentrail.db.merge import merge_calls
from tokentrail.db.rows import LlmCallRow

__all__ = ["Window", "keep_single_rows", "lock_traces", "recompute", "traces_to_merge", "window_of"]

_LOCK_NAMESPACE: Final = 0x74726163  # "trac": the first key of every per-trace advisory lock
_REACH: Final = timedelta(days=1)
_COLUMNS: Final = LlmCallRow._fields

Window = tuple[datetime, datetime]
Connection = psycopg.AsyncConnection[Any]


def window_of(rows: Sequence[LlmCallRow]) -> Window:
    """The time range in which the reports of these rows' calls can lie."""
    starts = [row.start_time for row in rows]
    return min(starts) - _REACH, max(starts) + _REACH


def _lock_key(trace_id: str) -> int:
    """A signed 32-bit key from a trace id (hex): the same on every replica."""
    return int.from_bytes(bytes.fromhex(trace_id[:8].rjust(8, "0")), "big", signed=True)


async def lock_traces(conn: Connection, trace_ids: Iterable[str]) -> None:
    keys = sorted({_lock_key(trace_id) for trace_id in trace_ids})
    if keys:
        # Volatile functions in the target list run after the sort: the locks are taken in key order.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%s::int[]) AS k ORDER BY k", (_LOCK_NAMESPACE, keys)
        )


async def traces_to_merge(conn: Connection, rows: Sequence[LlmCallRow], window: Window) -> set[str]:
    """The traces among `rows` whose calls (stored, or in `rows`) come from more than one source."""
    sources: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        sources[row.trace_id].add(row.source)
    cur = await conn.execute(
        """
        SELECT c.trace_id, s.source
        FROM llm_calls AS c CROSS JOIN LATERAL unnest(coalesce(c.sources, ARRAY[c.source])) AS s(source)
        WHERE c.trace_id = ANY(%s) AND c.start_time >= %s AND c.start_time < %s
        GROUP BY 1, 2
        """,
        (list(sources), *window),
    )
    for trace_id, source in await cur.fetchall():
        sources[trace_id].add(source)
    return {trace_id for trace_id, found in sources.items() if len(found) > 1}


def _names(columns: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


# The single rows already stored for a trace are reports as they are (a merged row never is: its members are
# in llm_call_reports already).
_KEEP_SINGLE_ROWS: Final = sql.SQL(
    "INSERT INTO llm_call_reports ({names}) SELECT {values} FROM llm_calls"
    " WHERE trace_id = ANY(%s) AND start_time >= %s AND start_time < %s AND member_span_ids IS NULL"
    " ON CONFLICT DO NOTHING"
).format(
    names=_names(_COLUMNS),
    values=sql.SQL(", ").join(
        sql.SQL("coalesce(sources, ARRAY[source])") if name == "sources" else sql.Identifier(name) for name in _COLUMNS
    ),
)
_REPORTS: Final = sql.SQL(
    "SELECT {values} FROM llm_call_reports WHERE trace_id = ANY(%s) AND start_time >= %s AND start_time < %s"
).format(
    values=sql.SQL(", ").join(
        sql.SQL("attributes::text") if name == "attributes" else sql.Identifier(name) for name in _COLUMNS
    )
)
_PARENTS: Final = (
    "SELECT span_id, parent_span_id FROM spans WHERE trace_id = ANY(%s) AND start_time >= %s AND start_time < %s"
)
_DELETE: Final = "DELETE FROM llm_calls WHERE trace_id = ANY(%s) AND start_time >= %s AND start_time < %s"
_COPY: Final = sql.SQL("COPY llm_calls ({}) FROM STDIN").format(_names(_COLUMNS))


async def keep_single_rows(conn: Connection, traces: set[str], window: Window) -> None:
    await conn.execute(_KEEP_SINGLE_ROWS, (list(traces), *window))


async def recompute(conn: Connection, traces: set[str], window: Window) -> int:
    """Rebuild the `llm_calls` rows of `traces` from their reports; the change in the number of rows."""
    params = (list(traces), *window)
    async with conn.cursor() as cur:
        await cur.execute(_REPORTS, params)
        by_trace: dict[str, list[LlmCallRow]] = defaultdict(list)
        for values in await cur.fetchall():
            row = LlmCallRow(*values)
            by_trace[row.trace_id].append(row)
        await cur.execute(_PARENTS, params)
        parents: dict[str, str | None] = {span_id: parent for span_id, parent in await cur.fetchall()}
        merged = [call for reports in by_trace.values() for call in merge_calls(reports, parents)]
        await cur.execute(_DELETE, params)
        deleted = max(cur.rowcount, 0)
        async with cur.copy(_COPY) as copy:
            for call in merged:
                await copy.write_row(call)
    return len(merged) - deleted
