"""tokentrail.reports.sessions: sessions and users listed, a session replayed, a user's spend per day."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, insert, user_messages
from tokentrail.reports.callfilter import CallFilter
from tokentrail.reports.sessions import count_sessions, count_users, session_calls, sessions, user_spend, users

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
