"""tokentrail.reports.calllist: a page of calls read each of its ways (walk, whole, as planned) gives the same rows,
and `call_page` picks a way that finds them, against a real database."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, insert
from tokentrail.reports import calllist
from tokentrail.reports.callfilter import CallFilter
from tokentrail.reports.paging import cursor_at

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def _ids(rows: list[calllist.CallRow]) -> list[str]:
    return [r.span_id for r in rows]


def varied() -> list[Call]:
    return [
        Call(
            NOW - timedelta(minutes=i % 6),
            cost=None if i % 4 == 0 else Decimal("0.001") * (i % 5),
            duration_ms=100.0 * (i % 7),
            output_tokens=i % 3 * 10,
            status="error" if i % 4 == 0 else "ok",
            user="alice" if i % 2 else "bob",
        )
        for i in range(30)
    ]


@pytest.mark.parametrize("sort", calllist.SORTS)
def test_walk_and_whole_read_give_the_planned_rows(conn: psycopg.Connection[Any], sort: str) -> None:
    insert(conn, varied())
    for where in (CallFilter(limit=6, offset=3), CallFilter(user="alice", limit=4, offset=2)):
        planned = _ids(calllist.calls(conn, where, sort))
        assert len(planned) == where.limit
        assert _ids(calllist.calls(conn, where, sort, few=True)) == planned
        assert _ids(calllist.calls(conn, where, sort, walk=1000)) == planned
        for bound in (1, 100):  # over the bound (walked or as planned) and under it (read whole)
            page = calllist.call_page(conn, where, sort, bound=bound)
            assert _ids(page.rows[: where.limit]) == planned
            assert len(page.rows) == where.limit + 1  # the row that says another page follows
        after = cursor_at(sort, calllist.calls(conn, CallFilter(limit=1, offset=4), sort)[0])
        expected = _ids(calllist.calls(conn, where, sort, after))
        assert _ids(calllist.calls(conn, where, sort, after, walk=1000)) == expected
        back = cursor_at(sort, calllist.calls(conn, CallFilter(limit=1, offset=20), sort)[0], before=True)
        expected = _ids(calllist.calls(conn, where, sort, back))
        assert _ids(calllist.calls(conn, where, sort, back, walk=1000)) == expected
        assert _ids(calllist.calls(conn, where, sort, back, few=True)) == expected
    with pytest.raises(ValueError, match="not both"):
        calllist.calls(conn, CallFilter(), sort, few=True, walk=10)


def test_a_short_walk_finds_only_the_rows_it_passes(conn: psycopg.Connection[Any]) -> None:
    insert(conn, varied())
    slow = CallFilter(min_latency_ms=600, limit=5)  # the four slowest calls: they come last, fastest first
    assert _ids(calllist.calls(conn, slow, "latency", walk=10)) == []
    assert len(calllist.calls(conn, slow, "latency", walk=30)) == 4
    assert len(calllist.calls(conn, slow, "-latency", walk=10)) == 4  # first when slowest first


def test_errors_by_cost_walk_only_the_failed_calls(conn: psycopg.Connection[Any]) -> None:
    # Failed calls have no cost, so in the whole list they come last by cost; their own index (migration 0007)
    # orders them, and the walk passes only them.
    insert(conn, varied())
    errors = CallFilter(status="error", limit=5)
    expected = _ids(calllist.calls(conn, errors, "-cost", few=True))
    assert len(expected) == 5
    assert _ids(calllist.calls(conn, errors, "-cost", walk=5)) == expected
    assert _ids(calllist.calls(conn, errors, "cost", walk=5)) == _ids(calllist.calls(conn, errors, "cost", few=True))


def test_call_page_counts_and_reads_each_way(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT tokentrail_ensure_partitions(%s::date)", (NOW.date(),))
    # More cheap calls than one walk examines, and a few errors without a cost behind them all by cost.
    conn.execute(
        """INSERT INTO llm_calls (trace_id, span_id, start_time, duration_ms, source, operation, status, cost_usd)
           SELECT md5(i::text), lpad(to_hex(i), 16, '0'), %s - i * interval '1 ms', i, 'test', 'chat',
                  CASE WHEN i %% 1000 = 0 THEN 'error' ELSE 'ok' END,
                  CASE WHEN i %% 1000 = 0 THEN NULL ELSE 0.001 END
           FROM generate_series(1, %s) AS i""",
        (NOW, calllist.WALK_MIN + 5000),
    )
    errors = CallFilter(status="error", limit=5)
    expected = [
        r[0]
        for r in conn.execute(
            "SELECT span_id FROM llm_calls WHERE status = 'error' ORDER BY start_time DESC, span_id LIMIT 6"
        )
    ]
    count = conn.execute("SELECT count(*) FROM llm_calls WHERE status = 'error'").fetchone()
    assert count is not None
    assert count[0] > 6
    small = calllist.call_page(conn, errors, "-cost")  # counted exactly, read whole
    assert (small.total, small.exact, _ids(small.rows)) == (count[0], True, expected)
    over = calllist.call_page(conn, errors, "-cost", bound=4)  # "more than 4": walked, then read whole
    assert (over.total, over.exact, _ids(over.rows)) == (5, False, expected)
    newest = calllist.call_page(conn, CallFilter(limit=3), "-time", bound=100)
    assert (newest.total, newest.exact, _ids(newest.rows)) == (101, False, [f"{i:016x}" for i in range(1, 5)])


def _models() -> list[Call]:
    """Cheap haiku calls and dear sonnet ones, so that haiku's come last by cost and first by cost ascending."""
    out = []
    for i in range(40):
        haiku = i % 3 != 0
        out.append(
            Call(
                NOW - timedelta(minutes=i),
                model="claude-haiku-4-5" if haiku else "claude-sonnet-4-5",
                cost=(Decimal("0.0001") if haiku else Decimal("0.01")) * (1 + i % 4),
                duration_ms=(50.0 if haiku else 900.0) + i,
                output_tokens=5 + i % 6,
            )
        )
    return out


@pytest.mark.parametrize("sort", [s for s in calllist.SORTS if "time" not in s])
def test_a_model_over_the_bound_reads_its_calls_in_sort_order(conn: psycopg.Connection[Any], sort: str) -> None:
    calls = _models()
    insert(conn, calls)
    where = CallFilter(model="claude-haiku-4-5", since=NOW - timedelta(days=1), limit=4, offset=2)
    expected = _ids(calllist.calls(conn, replace(where, limit=5), sort, few=True))
    assert len(expected) == 5
    assert _ids(calllist.call_page(conn, where, sort, bound=3).rows) == expected  # as the requested model
    after = cursor_at(sort, calllist.calls(conn, where, sort, few=True)[0])
    expected_after = _ids(calllist.calls(conn, replace(where, limit=5), sort, after, few=True))
    assert _ids(calllist.call_page(conn, where, sort, after, bound=3).rows) == expected_after
    # A call that requested another model and was answered by this one: the filter matches it too.
    odd = Call(NOW - timedelta(minutes=3, seconds=30), model="claude-sonnet-4-5", response_model="claude-haiku-4-5",
               cost=Decimal("0.00025"), duration_ms=52.5, output_tokens=7)  # fmt: skip
    insert(conn, [odd])
    expected = _ids(calllist.calls(conn, replace(where, limit=5), sort, few=True))
    assert _ids(calllist.call_page(conn, where, sort, bound=3).rows) == expected
    every = calllist.call_page(conn, replace(where, limit=100, offset=0), sort, bound=3)
    assert odd.span_id in _ids(every.rows)
    assert len(every.rows) == 1 + sum(c.model == "claude-haiku-4-5" for c in calls)
