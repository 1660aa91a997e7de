"""tokentrail.reports.rollupusers against reports.sessions / queries (every call read), on random calls."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.randomcalls import bulk_insert, random_calls
from tokentrail.reports import queries, rollupusers, sessions
from tokentrail.reports.callfilter import CallFilter

pytestmark = pytest.mark.postgres

START = datetime(2026, 11, 16, 0, 0, tzinfo=timezone.utc)
WINDOWS = (
    CallFilter(),
    CallFilter(since=START + timedelta(hours=5, minutes=17), until=START + timedelta(days=2, minutes=3)),
    CallFilter(since=START + timedelta(hours=30, minutes=1)),
    CallFilter(since=START + timedelta(minutes=10), until=START + timedelta(minutes=50)),
)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        bulk_insert(connection, random_calls(random.Random(5), START, 200))
        yield connection


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize(
    "criteria", [{}, {"model": "claude-haiku-4-5"}, {"status": "error"}, {"min_cost": Decimal("0.002")}]
)
def test_users_match_every_call_read(conn: psycopg.Connection[Any], window: CallFilter, criteria: Any) -> None:
    where = replace(window, **criteria)
    for page in (replace(where, limit=2), replace(where, limit=2, offset=2), where):
        assert rollupusers.users(conn, page) == sessions.users(conn, page)
    assert rollupusers.count_users(conn, where) == sessions.count_users(conn, where)
    assert rollupusers.count_calls(conn, where) == queries.count_calls(conn, where)


@pytest.mark.parametrize("window", WINDOWS)
def test_a_users_spend_matches_every_call_read(conn: psycopg.Connection[Any], window: CallFilter) -> None:
    for user in ("u1", "u3", "nobody"):
        assert rollupusers.user_spend(conn, user, window) == sessions.user_spend(conn, user, window)
        one = replace(window, user=user)
        assert rollupusers.count_calls(conn, one) == queries.count_calls(conn, one)
    assert rollupusers.user_spend(conn, "u2", replace(window, search="x")) == sessions.user_spend(
        conn, "u2", replace(window, search="x")
    )


@pytest.mark.parametrize("window", WINDOWS)
def test_the_latest_sessions_from_a_later_start_are_the_same(conn: psycopg.Connection[Any], window: CallFilter) -> None:
    for user in ("u1", "u2"):
        where = replace(window, user=user)
        for wanted in (1, 2):
            since = rollupusers.recent_sessions_since(conn, where, wanted)
            full = sessions.sessions(conn, replace(where, limit=wanted))
            if since is None:
                assert len({r.session_id for r in sessions.sessions(conn, where)}) < wanted
                continue
            assert where.since is None or since >= where.since
            narrowed = sessions.sessions(conn, replace(where, since=since, limit=wanted))
            assert [replace(r, total=0) for r in narrowed] == [replace(r, total=0) for r in full]
