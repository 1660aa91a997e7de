"""The users list, a user's spend and call count from the rollups (`reports.rollup`), with the rows, order and
totals of `reports.sessions` / `queries` (which read every call); a filter the rollups cannot answer falls back to
those."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from psycopg import sql
from psycopg.rows import dict_row

from tokentrail.reports import sessions
from tokentrail.reports.callfilter import CallFilter, Where, filter_conditions
from tokentrail.reports.queries import Connection
from tokentrail.reports.rollup import EPOCH, SUMS, USERS, RollupQuery, read_totals, used_fields
from tokentrail.reports.rollupsql import segments
from tokentrail.reports.sessions import SpendPoint, UserRow

__all__ = ["count_calls", "count_users", "recent_sessions_since", "user_spend", "users"]

_SESSIONS_FIELDS: Final = frozenset({"user"})
_HAS_USER: Final = sql.SQL("c.user_id IS NOT NULL")
_HASH_MEMORY: Final = "SET LOCAL work_mem = '64MB'"
_NO_WORKERS: Final = "SET LOCAL max_parallel_workers_per_gather = 0"  # one hash table beats three, then a merge


def _user_groups(where: CallFilter) -> tuple[RollupQuery, sql.Composable]:
    query = RollupQuery(where, USERS, "user", extra=[_HAS_USER])
    union = query.branches(None, segments(where.since, where.until, hours=True, days=True))
    return query, union


def users(conn: Connection, where: CallFilter) -> list[UserRow]:
    """`sessions.users`: the users with calls `where` selects, by cost descending (`limit` after `offset`)."""
    if not used_fields(where) <= USERS.fields:
        return sessions.users(conn, where)
    query, union = _user_groups(where)
    text = sql.SQL(
        "SELECT s.key AS user_id, {sums}, count(*) OVER () AS total FROM ({union}) AS s GROUP BY s.key "
        "HAVING sum(s.calls) > 0 ORDER BY cost_usd DESC, calls DESC, s.key LIMIT %(limit)s OFFSET %(offset)s"
    ).format(sums=SUMS, union=union)
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(
            text, {**query.params, "limit": where.limit, "offset": where.offset}, prepare=False
        ).fetchall()
    if not found:
        return []
    ids = [row["user_id"] for row in found]
    counts = _session_counts(conn, where, ids)
    times = _first_and_last(conn, where, ids)
    return [
        UserRow(
            user_id=row["user_id"],
            calls=row["calls"],
            errors=row["errors"],
            cost_usd=row["cost_usd"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            sessions=counts.get(row["user_id"], 0),
            first_time=times[row["user_id"]][0],
            last_time=times[row["user_id"]][1],
            total=row["total"],
        )
        for row in found
    ]


def _session_counts(conn: Connection, where: CallFilter, ids: list[str]) -> dict[str, int]:
    """Distinct sessions of each of `ids` among the calls `where` selects."""
    params: dict[str, Any] = {"ids": ids}
    if not used_fields(where) <= _SESSIONS_FIELDS:
        cond = filter_conditions(where).add("c.user_id = ANY(%(ids)s)")
        text: sql.Composed = sql.SQL(
            "SELECT c.user_id, count(DISTINCT c.session_id) FROM llm_calls AS c{} GROUP BY 1"
        ).format(cond.clause())
        params.update(cond.params)
    else:
        parts = []
        for index, seg in enumerate(segments(where.since, where.until, hours=True, days=True)):
            cond = Where().add("c.user_id = ANY(%(ids)s)")
            for bound, op, value in (("lo", ">=", seg.lo), ("hi", "<", seg.hi)):
                if value is not None:
                    params[f"s{index}{bound}"] = value
                    column = "c.start_time" if seg.grain is None else "c.period"
                    cond.add(
                        sql.SQL("{} {} {}").format(sql.SQL(column), sql.SQL(op), sql.Placeholder(f"s{index}{bound}"))
                    )
            if seg.grain is None:
                cond.add("c.session_id IS NOT NULL")
                parts.append(sql.SQL("SELECT c.user_id, c.session_id FROM llm_calls AS c{}").format(cond.clause()))
            else:
                cond.add(sql.SQL("c.grain = {} AND c.calls > 0").format(sql.Literal(seg.grain)))
                parts.append(
                    sql.SQL("SELECT c.user_id, c.session_id FROM llm_rollup_user_sessions AS c{}").format(cond.clause())
                )
        # Each (user, session) once: DISTINCT, with the memory to hash them rather than sort (count(DISTINCT) sorts).
        text = sql.SQL(
            "SELECT s.user_id, count(*) FROM (SELECT DISTINCT u.user_id, u.session_id FROM ({}) AS u) AS s GROUP BY 1"
        ).format(sql.SQL(" UNION ALL ").join(parts))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_HASH_MEMORY)
        cur.execute(_NO_WORKERS)
        return {user: int(n) for user, n in cur.execute(text, params, prepare=False)}


def _first_and_last(conn: Connection, where: CallFilter, ids: list[str]) -> dict[str, tuple[Any, Any]]:
    """The first and last selected call of each of `ids` (the user index, newest and oldest end)."""
    cond = filter_conditions(replace(where, user=None)).add("c.user_id = u.id")
    text = sql.SQL(
        "SELECT u.id, (SELECT min(c.start_time) FROM llm_calls AS c{w}), "
        "(SELECT max(c.start_time) FROM llm_calls AS c{w}) FROM unnest(%(ids)s::text[]) AS u(id)"
    ).format(w=cond.clause())
    with conn.cursor() as cur:
        return {
            user: (first, last) for user, first, last in cur.execute(text, {**cond.params, "ids": ids}, prepare=False)
        }


def count_users(conn: Connection, where: CallFilter) -> int:
    """`sessions.count_users`: how many users `users` would list without paging."""
    if not used_fields(where) <= USERS.fields:
        return sessions.count_users(conn, where)
    query, union = _user_groups(where)
    text = sql.SQL("SELECT count(*) FROM (SELECT s.key FROM ({}) AS s GROUP BY 1 HAVING sum(s.calls) > 0) AS u").format(
        union
    )
    with conn.cursor() as cur:
        row = cur.execute(text, query.params, prepare=False).fetchone()
    return int(row[0]) if row else 0


def user_spend(conn: Connection, user_id: str, where: CallFilter | None = None) -> list[SpendPoint]:
    """`sessions.user_spend`: `user_id`'s calls and cost per UTC day and model (count_tokens left out)."""
    base = replace(where or CallFilter(), user=user_id)
    if not used_fields(base) <= USERS.fields:
        return sessions.user_spend(conn, user_id, where)
    rows = read_totals(
        conn, base, "model", bucket=timedelta(days=1), origin=EPOCH, extra=[sql.SQL("c.operation <> 'count_tokens'")]
    )
    return [
        SpendPoint(r.bucket.astimezone(timezone.utc).date(), r.key, r.calls, r.cost_usd)
        for r in rows
        if r.bucket is not None
    ]


def count_calls(conn: Connection, where: CallFilter) -> int:
    """`queries.count_calls`: how many calls `where` selects (from a rollup when one answers it)."""
    return sum(r.calls for r in read_totals(conn, where, None))


_SCAN: Final = 1000
"""Calls read newest first to find a user's latest sessions (more sessions than that many calls hold: no bound)."""


def recent_sessions_since(conn: Connection, where: CallFilter, sessions_wanted: int) -> datetime | None:
    """A later `since` that selects the same `sessions_wanted` most recent sessions of `where`'s calls, with all
    of their calls (so `sessions.sessions` reads far fewer); None when no such bound was found.

    The latest sessions are the first distinct ones met reading the calls newest first; the bound is the first
    selected call of any of them."""
    cond = filter_conditions(where).add("c.session_id IS NOT NULL")
    newest = sql.SQL("SELECT c.session_id FROM llm_calls AS c{} ORDER BY c.start_time DESC LIMIT %(scan)s").format(
        cond.clause()
    )
    with conn.cursor() as cur:
        ids = list(dict.fromkeys(row[0] for row in cur.execute(newest, {**cond.params, "scan": _SCAN}, prepare=False)))
        if len(ids) < sessions_wanted:
            return None
        # One session at a time, so that each reads the session index rather than the whole range.
        first = cond.add("c.session_id = s.id")
        text = sql.SQL(
            "SELECT min(f.t) FROM unnest(%(recent)s::text[]) AS s(id) "
            "CROSS JOIN LATERAL (SELECT min(c.start_time) AS t FROM llm_calls AS c{}) AS f"
        ).format(first.clause())
        row = cur.execute(text, {**first.params, "recent": ids[:sessions_wanted]}, prepare=False).fetchone()
    return row[0] if row and row[0] is not None else None
