"""tokentrail.reports.sessions: sessions and users listed, a session replayed, a user's spend per day."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, insert, user_messages
from tokentrail.reports.callfilter import CallFilter
from tokentrail.reports.sessions import (
    count_sessions,
    count_users,
    session_calls,
    session_list,
    sessions,
    user_spend,
    users,
)

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def _seed(conn: psycopg.Connection[Any]) -> None:
    insert(
        conn,
        [
            Call(NOW - 2 * DAY, user="alice", session="s1", cost=Decimal("0.10"), input_body=user_messages("first")),
            Call(
                NOW - 2 * DAY + timedelta(minutes=1),
                user="alice",
                session="s1",
                cost=Decimal("0.20"),
                model="claude-haiku-4-5",
                input_body=user_messages("first", "second"),
                status="error",
                error_type="overloaded_error",
            ),
            Call(NOW - DAY, user="alice", session="s2", cost=Decimal("0.30")),
            Call(NOW - DAY, user="bob", session="s3", cost=Decimal("1.00")),
            Call(NOW - DAY, user="bob", operation="count_tokens", cost=None, input_tokens=5000),
            Call(NOW - 40 * DAY, user="carol", session="old", cost=Decimal("9")),
        ],
    )


def test_sessions_and_users_lists(conn: psycopg.Connection[Any]) -> None:
    _seed(conn)
    window = CallFilter(since=NOW - 7 * DAY, until=NOW)
    listed = sessions(conn, window)
    assert [s.session_id for s in listed] == ["s2", "s3", "s1"]  # most recent first, ties by id
    s1 = next(s for s in listed if s.session_id == "s1")
    assert (s1.calls, s1.errors, s1.cost_usd, s1.users) == (2, 1, Decimal("0.30"), ["alice"])
    assert s1.first_time == NOW - 2 * DAY
    assert s1.last_time == NOW - 2 * DAY + timedelta(minutes=1)
    assert count_sessions(conn, window) == 3
    assert {s.total for s in listed} == {3}
    assert [s.session_id for s in sessions(conn, CallFilter(since=NOW - 7 * DAY, limit=1, offset=2))] == ["s1"]
    people = users(conn, window)
    assert [(u.user_id, u.cost_usd, u.sessions) for u in people] == [
        ("bob", Decimal("1.00"), 1),
        ("alice", Decimal("0.60"), 2),
    ]
    assert people[0].input_tokens == 100  # the count_tokens call's counted tokens are not usage
    assert count_users(conn, window) == 2
    assert {u.total for u in people} == {2}


def test_user_spend_by_day_and_model_and_session_replay(conn: psycopg.Connection[Any]) -> None:
    _seed(conn)
    spend = user_spend(conn, "alice", CallFilter(since=NOW - 7 * DAY, user="someone-else"))
    assert [(p.day, p.model, p.calls, p.cost_usd) for p in spend] == [
        (date(2026, 11, 18), "claude-haiku-4-5", 1, Decimal("0.20")),
        (date(2026, 11, 18), "claude-sonnet-4-5", 1, Decimal("0.10")),
        (date(2026, 11, 19), "claude-sonnet-4-5", 1, Decimal("0.30")),
    ]
    assert [p.calls for p in user_spend(conn, "bob")] == [1]
    replay = session_calls(conn, "s1")
    assert [c.model for c in replay] == ["claude-sonnet-4-5", "claude-haiku-4-5"]
    assert [p.text for m in replay[1].conversation.input.messages for p in m.parts] == ["first", "ok", "second"]
    assert replay[1].status == "error"
    assert replay[1].error_type == "overloaded_error"
    assert session_calls(conn, "nope") == []
    assert len(session_calls(conn, "s1", limit=1)) == 1


def _busy_sessions(conn: psycopg.Connection[Any]) -> None:
    """Sessions of very different lengths whose last calls tie: more calls than one round of the list reads."""
    calls = [Call(NOW - timedelta(seconds=i), user="alice", session="long", cost=Decimal("0.01")) for i in range(46)]
    for name in ("tie-c", "tie-b", "tie-a"):  # three sessions ending at the same moment
        calls += [Call(NOW - timedelta(minutes=5 + i), user="bob", session=name) for i in range(3)]
    calls += [Call(NOW - timedelta(hours=i), user=f"u{i}", session=f"short-{i}") for i in range(1, 12)]
    calls += [Call(NOW - timedelta(days=1, minutes=i), session=f"old-{i:03}") for i in range(100)]
    calls.append(Call(NOW - timedelta(minutes=7), user="carol", session="tie-a", status="error"))
    calls.append(Call(NOW - timedelta(minutes=1), user="dave"))  # no session
    insert(conn, calls)


def test_session_list_pages_match_the_whole_aggregation(conn: psycopg.Connection[Any]) -> None:
    _busy_sessions(conn)
    since = NOW - 30 * DAY
    expected = conn.execute(
        """SELECT session_id, count(*), count(*) FILTER (WHERE status = 'error'), sum(cost_usd),
                  coalesce(array_agg(DISTINCT user_id ORDER BY user_id) FILTER (WHERE user_id IS NOT NULL), '{}')
           FROM llm_calls WHERE session_id IS NOT NULL AND start_time >= %s
           GROUP BY session_id ORDER BY max(start_time) DESC, session_id""",
        (since,),
    ).fetchall()
    assert [row[0] for row in expected[:4]] == ["long", "tie-a", "tie-b", "tie-c"]
    assert len(expected) == 115
    # one session a page, counting none beyond: for the second page the first round reads 48 calls, which end
    # among the tied sessions (here tie-c and tie-b, as written): tie-a must still come first
    listed, estimates = [], set()
    for offset in range(len(expected) + 1):
        page = session_list(conn, CallFilter(since=since, limit=1, offset=offset), count_bound=0)
        listed += [(s.session_id, s.calls, s.errors, s.cost_usd, s.users) for s in page.rows]
        assert page.total == (len(expected) if page.exact else offset + 2)  # "more than offset + 1"
        estimates.add(page.exact)
    assert listed == [tuple(row) for row in expected]
    assert estimates == {True, False}
    whole = session_list(conn, CallFilter(since=since, limit=5))
    assert (whole.total, whole.exact) == (len(expected), True)
    assert [s.session_id for s in whole.rows] == [row[0] for row in expected[:5]]
    assert {s.total for s in sessions(conn, CallFilter(since=since, limit=5))} == {6}  # "more than 5"
    assert {s.total for s in sessions(conn, CallFilter(since=since, limit=5), count_bound=1000)} == {len(expected)}
    assert session_list(conn, CallFilter(since=since, offset=200)).rows == []
