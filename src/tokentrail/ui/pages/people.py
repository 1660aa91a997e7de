"""Sessions and users: the lists over the selected range, a session replayed as a conversation, a user's spend.

The lists take the same time range and call filter as every page (`selection`), and page with `page` / `size`.
A session's replay shows each call's new turns only: the messages its request carries beyond the previous call's
request and response (a chat resends the history), so the thread reads once from top to bottom.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tokentrail.reports import queries, rollupusers, sessions
from tokentrail.reports.conversation import Message
from tokentrail.reports.sessions import SessionCall
from tokentrail.ui import charts, params
from tokentrail.ui.pages.common import connection, selection
from tokentrail.ui.render import money, page

__all__ = ["ROUTES", "new_turns"]

_MAX_ID = 256


def _path_id(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if not value.strip() or len(value) > _MAX_ID:
        raise params.BadParameter(name, f"must be 1 to {_MAX_ID} characters")
    return value


def new_turns(calls: list[SessionCall]) -> list[int]:
    """For each call, how many leading input messages the previous call already showed (request + response)."""
    skips = []
    seen: tuple[Message, ...] = ()
    for call in calls:
        inputs = call.conversation.input.messages
        skips.append(len(seen) if seen and inputs[: len(seen)] == seen else 0)
        seen = inputs + call.conversation.output.messages
    return skips


def sessions_page(request: Request) -> Response:
    window, where = selection(request)
    paged = params.page(request.query_params, where)
    with connection(request) as conn:
        found = sessions.session_list(conn, paged)
    return page(
        request,
        "sessions.html",
        active="sessions",
        window=window,
        rows=found.rows,
        total=found.total,
        exact=found.exact,
        where=paged,
    )


def session_page(request: Request) -> Response:
    session_id = _path_id(request, "session_id")
    with connection(request) as conn:
        calls = sessions.session_calls(conn, session_id)
    if not calls:
        raise HTTPException(404, f"no call of session {session_id!r} is stored")
    return page(
        request,
        "session.html",
        active="sessions",
        session_id=session_id,
        calls=calls,
        skips=new_turns(calls),
        cost=sum((c.cost_usd or Decimal(0) for c in calls), Decimal(0)),
        limit=sessions.MAX_SESSION_CALLS,
    )


def users_page(request: Request) -> Response:
    window, where = selection(request)
    paged = params.page(request.query_params, where)
    with connection(request) as conn:
        rows = rollupusers.users(conn, paged)
        total = rows[0].total if rows else rollupusers.count_users(conn, where)
    chart = charts.hbars("Spend by user", [(r.user_id, float(r.cost_usd)) for r in rows[:15]], money)
    return page(request, "users.html", active="users", window=window, rows=rows, total=total, where=paged, chart=chart)


def user_page(request: Request) -> Response:
    user_id = _path_id(request, "user_id")
    window, where = selection(request)
    where = replace(where, user=user_id)
    paged = params.page(request.query_params, where, default_size=25)
    with connection(request) as conn:
        spend = rollupusers.user_spend(conn, user_id, where)
        recent = queries.calls(conn, paged, params.sort(request.query_params))
        total = rollupusers.count_calls(conn, where)
        # The same 20 latest sessions, from the first call of any of them on (not the whole range).
        since = rollupusers.recent_sessions_since(conn, where, 20)
        latest = replace(where, since=since) if since is not None and since > window.since else where
        user_sessions = sessions.sessions(conn, replace(latest, limit=20, offset=0))
    days = []
    day = window.since.date()
    while day <= window.until.date():
        days.append(day)
        day += timedelta(days=1)
    models = sorted({p.model or "?" for p in spend})
    by_key = {(p.day, p.model or "?"): float(p.cost_usd) for p in spend}
    series = [charts.Series(m, [by_key.get((d, m), 0.0) for d in days]) for m in models]
    chart = charts.stacked_bars("Spend per day by model", [d.strftime("%m-%d") for d in days], series, money)
    return page(
        request,
        "user.html",
        active="users",
        window=window,
        user_id=user_id,
        chart=chart,
        spend_total=sum(by_key.values()),
        calls=recent,
        total=total,
        where=paged,
        sessions=user_sessions,
    )


ROUTES: list[BaseRoute] = [
    Route("/sessions", sessions_page),
    Route("/sessions/{session_id:path}", session_page),
    Route("/users", users_page),
    Route("/users/{user_id:path}", user_page),
]
