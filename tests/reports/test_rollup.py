"""tokentrail.reports.rollup against `queries` (every call read): random calls, the same sums exactly, the same
percentiles within the histogram's stated bound, after inserts, re-delivery, deletes, updates and retention."""

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
from tests.fixtures.rows import insert
from tokentrail.db import retention
from tokentrail.reports import queries, rollup, rollupstats
from tokentrail.reports.callfilter import CallFilter
from tokentrail.reports.rollupsql import NAMES, Segment, segments
from tokentrail.reports.series import series as raw_series

pytestmark = pytest.mark.postgres

UTC = timezone.utc
START = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
GROUPINGS = (None, "model", "service", "workflow", "call-type", "operation", "error-type", "prompt-version", "user",
             "tag", "attr:company_id")  # fmt: skip


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def _windows(rng: random.Random) -> list[CallFilter]:
    out = [
        CallFilter(),
        CallFilter(since=START + timedelta(hours=5, minutes=17), until=START + timedelta(days=2, minutes=3)),
    ]
    for _ in range(3):
        a, b = sorted(rng.uniform(-3600, 3 * 86400 + 3600) for _ in range(2))
        out.append(CallFilter(since=START + timedelta(seconds=a), until=START + timedelta(seconds=b + 1)))
    out.append(CallFilter(since=START + timedelta(hours=30, minutes=1)))
    out.append(CallFilter(until=START + timedelta(hours=30, minutes=59)))
    return out


def _close(estimate: float | None, exact: float | None) -> bool:
    if exact is None or estimate is None:
        return estimate is None and exact is None
    return abs(estimate - exact) <= rollupstats.MAX_RELATIVE_ERROR * exact + 1e-6


def _check_stats(conn: psycopg.Connection[Any], where: CallFilter, by: str | None) -> None:
    exact = queries.stats(conn, where, by)
    if by in (None, "model", "service", "workflow", "call-type", "operation", "error-type", "prompt-version"):
        got = rollupstats.stats(conn, where, by)
        assert [r.key for r in got] == [r.key for r in exact]
        for g, e in zip(got, exact, strict=True):
            for name in ("calls", "errors", "retried", "input_tokens", "output_tokens", "cache_read_tokens",
                         "cache_write_tokens", "counted_tokens", "cost_usd"):  # fmt: skip
                assert getattr(g, name) == getattr(e, name), (where, by, g.key, name)
            assert g.error_rate == pytest.approx(e.error_rate)
            assert (g.cache_hit_ratio is None) == (e.cache_hit_ratio is None)
            assert g.latency_mean_ms == pytest.approx(e.latency_mean_ms)
            for name in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttfc_p50_ms", "ttfc_p95_ms"):
                assert _close(getattr(g, name), getattr(e, name)), (where, by, g.key, name)
    totals = rollup.totals(conn, where, by)
    assert {(t.key, t.calls, t.errors, t.cost_usd, t.input_tokens, t.output_tokens) for t in totals} == {
        (e.key, e.calls, e.errors, e.cost_usd, e.input_tokens, e.output_tokens) for e in exact
    }, (where, by)


def _check_series(conn: psycopg.Connection[Any], where: CallFilter, by: str | None) -> None:
    for bucket, origin in (
        (timedelta(hours=1), rollup.EPOCH),
        (timedelta(days=1), rollup.EPOCH),
        (timedelta(hours=3), None),
    ):
        o = origin or where.since or rollup.EPOCH
        exact = raw_series(conn, replace(where, since=where.since), bucket, by) if origin is None else None
        got = rollup.series(conn, where, bucket, by, origin=o)
        if exact is None:
            exact = _raw_series_at(conn, where, bucket, by, o)
        assert {(p.bucket, p.key, p.calls, p.errors, p.cost_usd) for p in got} == {
            (p.bucket, p.key, p.calls, p.errors, p.cost_usd) for p in exact
        }, (where, by, bucket)


def _raw_series_at(
    conn: psycopg.Connection[Any], where: CallFilter, bucket: timedelta, by: str | None, origin: datetime
) -> list[Any]:
    return rollup.read_totals(conn, where, by, bucket=bucket, origin=origin, family=rollup.RAW)


def _check_all(conn: psycopg.Connection[Any], rng: random.Random) -> None:
    for where in _windows(rng):
        for by in GROUPINGS:
            _check_stats(conn, where, by)
        for by in (None, "model", "user", "tag", "attr:company_id"):
            _check_series(conn, where, by)
    # A filter the main rollup answers, one the users rollup answers, and one only llm_calls answers.
    window = CallFilter(since=START + timedelta(hours=7, minutes=30), until=START + timedelta(days=2, hours=1))
    for where in (replace(window, model="claude-haiku-4-5", status="ok"), replace(window, user="u1"),
                  replace(window, min_cost=Decimal("0.001")), replace(window, prompt="support@v2")):  # fmt: skip
        for by in (None, "model", "user", "prompt-version", "tag", "attr:company_id"):
            _check_stats(conn, where, by)
    for where in _windows(rng)[:3]:
        by_model, total = rollupstats.stats_and_total(conn, where, "model")
        assert by_model == rollupstats.stats(conn, where, "model")
        for bucket in (timedelta(hours=1), timedelta(days=1)):  # a series' groups summed: the same totals
            points = rollup.series(conn, where, bucket, "model", origin=rollup.EPOCH, names=NAMES)
            _same_totals(rollup.totals_of(points), rollup.totals(conn, where, "model"))
            hist = rollupstats.histograms(conn, where, "model")
            again, again_total = rollupstats.stats_from(rollup.totals_of(points), hist)
            assert [replace(r, latency_mean_ms=0.0) for r in again] == [
                replace(r, latency_mean_ms=0.0) for r in by_model
            ]
            assert [r.latency_mean_ms for r in again] == pytest.approx([r.latency_mean_ms for r in by_model])
            assert again_total is not None
            assert total is not None
            assert again_total.latency_mean_ms == pytest.approx(total.latency_mean_ms)
        few = rollup.totals(conn, where, "user", limit=3, names=("calls", "cost_usd"))
        assert [(r.key, r.calls, r.cost_usd) for r in few] == [
            (r.key, r.calls, r.cost_usd) for r in rollup.totals(conn, where, "user", limit=3)
        ]
        (alone,) = rollupstats.stats(conn, where)
        assert total is not None
        assert total.latency_mean_ms == pytest.approx(alone.latency_mean_ms)  # summed in another order
        assert replace(total, latency_mean_ms=0.0) == replace(alone, latency_mean_ms=0.0)


def _same_totals(got: list[rollup.Totals], expected: list[rollup.Totals]) -> None:
    """The same groups in the same order with the same sums (float sums within rounding: summed in another order)."""
    assert [(r.key, r.calls, r.cost_usd, r.input_tokens, r.output_tokens) for r in got] == [
        (r.key, r.calls, r.cost_usd, r.input_tokens, r.output_tokens) for r in expected
    ]
    for g, e in zip(got, expected, strict=True):
        assert replace(g, duration_ms=0.0, ttfc_ms=0.0) == replace(e, duration_ms=0.0, ttfc_ms=0.0)
        assert (g.duration_ms, g.ttfc_ms) == pytest.approx((e.duration_ms, e.ttfc_ms))


def test_the_rollups_equal_every_call_read(conn: psycopg.Connection[Any]) -> None:
    rng = random.Random(14)
    calls = random_calls(rng, START, 160)
    insert(conn, calls[:40])  # one statement per call
    bulk_insert(conn, calls[40:])  # one statement for many
    _check_all(conn, rng)


def test_redelivery_deletes_and_updates_keep_them_exact(conn: psycopg.Connection[Any]) -> None:
    rng = random.Random(7)
    bulk_insert(conn, random_calls(rng, START, 120))
    before = rollup.totals(conn, CallFilter(), "model")
    conn.execute("INSERT INTO llm_calls SELECT * FROM stage ON CONFLICT DO NOTHING")  # re-delivered: nothing new
    assert rollup.totals(conn, CallFilter(), "model") == before
    conn.execute("DELETE FROM llm_calls WHERE user_id = 'u2'")
    conn.execute("UPDATE llm_calls SET cost_usd = cost_usd * 2, request_model = 'claude-opus-4-1' WHERE user_id = 'u1'")
    conn.execute(
        "UPDATE llm_calls SET duration_ms = duration_ms + 1000, tags = ARRAY['moved'] WHERE service_name = 'api'"
    )
    _check_all(conn, rng)
    left = conn.execute("SELECT count(*) FROM llm_rollup WHERE calls = 0").fetchone()
    assert left is not None
    assert left[0] == 0


def test_retention_and_truncate_take_the_rollups_along(conn: psycopg.Connection[Any]) -> None:
    rng = random.Random(3)
    bulk_insert(conn, random_calls(rng, START, 120))
    result = retention.prune(conn, timedelta(days=2), now=START + timedelta(days=3, hours=12))
    assert result.rows > 0
    _check_all(conn, rng)
    gone = conn.execute("SELECT count(*) FROM llm_rollup WHERE period < %s", (START + timedelta(days=1),)).fetchone()
    assert gone is not None
    assert gone[0] == 0
    conn.execute("TRUNCATE llm_calls")
    assert rollup.totals(conn, CallFilter(), None) == []


def test_a_range_is_cut_into_days_hours_and_raw_edges() -> None:
    since, until = START + timedelta(hours=22, minutes=10), START + timedelta(days=3, hours=2, minutes=5)
    assert segments(since, until, hours=True, days=True) == [
        Segment(None, since, START + timedelta(hours=23)),
        Segment("hour", START + timedelta(hours=23), START + timedelta(days=1)),
        Segment("day", START + timedelta(days=1), START + timedelta(days=3)),
        Segment("hour", START + timedelta(days=3), START + timedelta(days=3, hours=2)),
        Segment(None, START + timedelta(days=3, hours=2), until),
    ]
    assert segments(since, since + timedelta(minutes=30), hours=True, days=True) == [
        Segment(None, since, since + timedelta(minutes=30))
    ]
    assert segments(None, None, hours=True, days=True) == [Segment("day", None, None)]
    assert segments(since, until, hours=False, days=False) == [Segment(None, since, until)]


def test_a_series_of_some_groups_and_the_rest(conn: psycopg.Connection[Any]) -> None:
    bulk_insert(conn, random_calls(random.Random(21), START, 120))
    where = CallFilter(since=START + timedelta(hours=3, minutes=30), until=START + timedelta(days=2, hours=5))
    bucket = timedelta(hours=6)
    every = rollup.series(conn, where, bucket, "user", origin=rollup.EPOCH)
    some = rollup.series(conn, where, bucket, "user", origin=rollup.EPOCH, keys=["u1", None])
    assert some == [p for p in every if p.key in ("u1", None)]
    whole = rollup.series(conn, where, bucket, origin=rollup.EPOCH)
    rest = rollup.remainder(whole, some, "(other)")
    expected = rollup.collapse([p for p in every if p.key not in ("u1", None)])
    assert [(p.bucket, p.calls, p.cost_usd) for p in rest] == [(p.bucket, p.calls, p.cost_usd) for p in expected]
    with pytest.raises(ValueError, match="attr"):
        rollup.series(conn, where, bucket, "attr:company_id", origin=rollup.EPOCH, keys=["acme"])
