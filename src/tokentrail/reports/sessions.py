"""Sessions and users: who used what, when, for how much (SELECT only).

A session is the calls that share a `session.id`; a user the calls that share a `user.id`. Lists take a
`CallFilter` (its time range and criteria select the calls; `limit` / `offset` page the list). A session's calls
come in start order with their content read (`tokentrail.reports.conversation`), so a page can replay them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from psycopg import sql
from psycopg.rows import class_row, dict_row

from tokentrail.reports.callfilter import CallFilter, filter_conditions
from tokentrail.reports.conversation import Conversation, conversation
from tokentrail.reports.queries import Connection

__all__ = [
    "SESSION_COUNT_BOUND",
    "SessionCall",
    "SessionList",
    "SessionRow",
    "SpendPoint",
    "UserRow",
    "count_sessions",
    "count_users",
    "session_calls",
    "session_list",
    "sessions",
    "user_spend",
    "users",
]

SESSION_COUNT_BOUND: Final = 1000
"""The sessions list counts its sessions exactly up to this many; beyond it, it says "more than"."""
_CALLS_PER_SESSION: Final = 16
"""The calls read per session wanted in the list's first round (more rounds read four times as many)."""
MAX_SESSION_CALLS: Final = 500
"""The most calls of one session read with their content (a replay longer than this is cut, newest kept out)."""


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    calls: int
    errors: int
    cost_usd: Decimal
    input_tokens: int
    output_tokens: int
    first_time: datetime
    last_time: datetime
    users: list[str]
    """The distinct user ids of its calls (usually one), sorted."""
    total: int
    """How many sessions the selection holds, paging aside, as `session_list` counts them (the same on every row)."""


@dataclass(frozen=True)
class UserRow:
    user_id: str
    calls: int
    errors: int
    cost_usd: Decimal
    input_tokens: int
    output_tokens: int
    sessions: int
    first_time: datetime
    last_time: datetime
    total: int
    """How many users the selection holds, paging aside (the same on every row)."""


@dataclass(frozen=True)
class SpendPoint:
    """One user's spend on one UTC day with one model."""

    day: date
    model: str | None
    calls: int
    cost_usd: Decimal


@dataclass(frozen=True)
class SessionCall:
    trace_id: str
    span_id: str
    start_time: datetime
    duration_ms: float
    model: str | None
    status: str
    error_type: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    user_id: str | None
    conversation: Conversation


_TOTALS: Final = sql.SQL(
    """count(*) AS calls, count(*) FILTER (WHERE c.status = 'error') AS errors,
       coalesce(sum(c.cost_usd), 0) AS cost_usd,
       coalesce(sum(c.input_tokens) FILTER (WHERE c.operation <> 'count_tokens'), 0)::bigint AS input_tokens,
       coalesce(sum(c.output_tokens), 0)::bigint AS output_tokens,
       min(c.start_time) AS first_time, max(c.start_time) AS last_time"""
)


@dataclass(frozen=True)
class SessionList:
    """A page of sessions and how many the selection holds."""

    rows: list[SessionRow]
    total: int
    exact: bool
    """`total` is the exact count; otherwise the selection holds more than `total - 1` sessions."""


def _ranked_sessions(conn: Connection, where: CallFilter, want: int) -> tuple[list[str], bool]:
    """The ids of the `want` (or more) most recently active sessions, most recent first, and whether that is every
    session of the selection. Reads the selection's calls newest first through the time index, more each round,
    until `want` sessions are known whose last call lies before the rows not yet read."""
    cond = filter_conditions(where).add("c.session_id IS NOT NULL")
    query = sql.SQL(
        """SELECT s.session_id, max(s.start_time) AS last_time, min(s.start_time) AS first_read, count(*) AS read
           FROM (SELECT c.session_id, c.start_time FROM llm_calls AS c{where}
                 ORDER BY c.start_time DESC LIMIT %(scan)s) AS s
           GROUP BY s.session_id"""
    ).format(where=cond.clause())
    scan = want * _CALLS_PER_SESSION
    while True:
        with conn.cursor() as cur:
            found = cur.execute(query, {**cond.params, "scan": scan}).fetchall()
        exhausted = sum(row[3] for row in found) < scan
        # A session whose last read call is the oldest read may have a tie beyond the rows read: not yet ranked.
        edge = None if exhausted or not found else min(row[2] for row in found)
        ranked = sorted((row for row in found if edge is None or row[1] > edge), key=lambda row: row[0])
        ranked.sort(key=lambda row: row[1], reverse=True)
        if exhausted or len(ranked) >= want:
            return [row[0] for row in ranked], exhausted
        scan *= 4


def session_list(conn: Connection, where: CallFilter, count_bound: int = SESSION_COUNT_BOUND) -> SessionList:
    """The sessions with calls `where` selects, most recently active first (`where.limit` after `.offset`), and
    their number, exact up to `count_bound` (or up to the end of the page, when that is further).

    Only the page's sessions are aggregated (through the session index), whatever the range holds.
    """
    want = max(where.offset + where.limit, count_bound) + 1
    ranked, exhausted = _ranked_sessions(conn, where, want)
    total = len(ranked) if exhausted else want
    ids = ranked[where.offset : where.offset + where.limit]
    if not ids:
        return SessionList([], total, exhausted)
    cond = filter_conditions(where).add("c.session_id = ANY(%(page_sessions)s)", page_sessions=ids)
    query = sql.SQL(
        """SELECT c.session_id, {totals},
                  coalesce(array_agg(DISTINCT c.user_id) FILTER (WHERE c.user_id IS NOT NULL), '{{}}') AS users,
                  %(total)s::bigint AS total
           FROM llm_calls AS c{where} GROUP BY c.session_id
           ORDER BY last_time DESC, c.session_id"""
    ).format(totals=_TOTALS, where=cond.clause())
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        rows = cur.execute(query, {**cond.params, "total": total}).fetchall()
    return SessionList(rows, total, exhausted)


def sessions(conn: Connection, where: CallFilter, count_bound: int = 0) -> list[SessionRow]:
    """The sessions with calls `where` selects, most recently active first (`where.limit` after `.offset`); each
    row's `total` is `session_list`'s with `count_bound` (by default counted only to the page's end, and one more
    when more follow: a short list of sessions reads no further than it shows)."""
    return session_list(conn, where, count_bound).rows


def _count_distinct(conn: Connection, where: CallFilter, column: sql.Composable) -> int:
    cond = filter_conditions(where)
    query = sql.SQL("SELECT count(DISTINCT {col}) FROM llm_calls AS c{where}").format(col=column, where=cond.clause())
    with conn.cursor() as cur:
        row = cur.execute(query, cond.params).fetchone()
    return int(row[0]) if row else 0


def count_sessions(conn: Connection, where: CallFilter) -> int:
    """How many sessions `sessions` would list without paging (its rows carry this too, when there are any)."""
    return _count_distinct(conn, where, sql.SQL("c.session_id"))


def count_users(conn: Connection, where: CallFilter) -> int:
    """How many users `users` would list without paging."""
    return _count_distinct(conn, where, sql.SQL("c.user_id"))


def users(conn: Connection, where: CallFilter) -> list[UserRow]:
    """The users with calls `where` selects, by cost descending (`where.limit` after `.offset`)."""
    cond = filter_conditions(where).add("c.user_id IS NOT NULL")
    query = sql.SQL(
        """SELECT c.user_id, {totals}, count(DISTINCT c.session_id) AS sessions, count(*) OVER () AS total
           FROM llm_calls AS c{where} GROUP BY c.user_id
           ORDER BY cost_usd DESC, calls DESC, c.user_id LIMIT %(limit)s OFFSET %(offset)s"""
    ).format(totals=_TOTALS, where=cond.clause())
    with conn.cursor(row_factory=class_row(UserRow)) as cur:
        return cur.execute(query, {**cond.params, "limit": where.limit, "offset": where.offset}).fetchall()


def user_spend(conn: Connection, user_id: str, where: CallFilter | None = None) -> list[SpendPoint]:
    """`user_id`'s calls and cost per UTC day and model (count_tokens left out), in day order, then by model.

    `where` narrows the calls further (its time range above all); its own `user` is replaced by `user_id`.
    """
    base = replace(where, user=None) if where is not None else CallFilter()
    cond = filter_conditions(base).add("c.user_id = %(spend_user)s", spend_user=user_id)
    cond.add("c.operation <> 'count_tokens'")
    query = sql.SQL(
        """SELECT (c.start_time AT TIME ZONE 'UTC')::date AS day,
                  coalesce(c.request_model, c.response_model) AS model,
                  count(*) AS calls, coalesce(sum(c.cost_usd), 0) AS cost_usd
           FROM llm_calls AS c{where} GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST"""
    ).format(where=cond.clause())
    with conn.cursor(row_factory=class_row(SpendPoint)) as cur:
        return cur.execute(query, cond.params).fetchall()


def session_calls(conn: Connection, session_id: str, limit: int = MAX_SESSION_CALLS) -> list[SessionCall]:
    """The calls of one session in start order (the first `limit`), each with its content read."""
    query = """
        SELECT c.trace_id, c.span_id, c.start_time, c.duration_ms,
               coalesce(c.request_model, c.response_model) AS model, c.status, c.error_type,
               c.input_tokens, c.output_tokens, c.cost_usd, c.user_id, c.content_truncated,
               sb.body AS system_body, ib.body AS input_body, ob.body AS output_body, tb.body AS tools_body
        FROM (SELECT * FROM llm_calls WHERE session_id = %(session)s
              ORDER BY start_time, span_id LIMIT %(limit)s) AS c
        LEFT JOIN content_blobs AS sb ON sb.sha256 = c.system_sha256
        LEFT JOIN content_blobs AS ib ON ib.sha256 = c.input_sha256
        LEFT JOIN content_blobs AS ob ON ob.sha256 = c.output_sha256
        LEFT JOIN content_blobs AS tb ON tb.sha256 = c.tools_sha256
        ORDER BY c.start_time, c.span_id
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, {"session": session_id, "limit": limit}).fetchall()
    result = []
    for row in rows:
        bodies = (row.pop("system_body"), row.pop("input_body"), row.pop("output_body"), row.pop("tools_body"))
        truncated = row.pop("content_truncated")
        result.append(SessionCall(**row, conversation=conversation(*bodies, truncated=truncated)))
    return result
