from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, insert
from tokentrail.reports.callfilter import CallFilter
from tokentrail.reports.series import bucket_starts, series

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def test_series_buckets_and_groups_calls(conn: psycopg.Connection[Any]) -> None:
    insert(
        conn,
        [
            Call(T0 + timedelta(minutes=5), model="a", cost=Decimal("0.010"), duration_ms=100),
            Call(T0 + timedelta(minutes=50), model="a", cost=Decimal("0.020"), duration_ms=300, status="error"),
            Call(T0 + timedelta(minutes=65), model="b", cost=Decimal("0.5"), output_tokens=7),
            Call(T0 + timedelta(hours=5), model="b"),  # outside the range
        ],
    )
    where = CallFilter(since=T0, until=T0 + timedelta(hours=2))
    points = series(conn, where, timedelta(hours=1), "model")
    assert [(p.bucket, p.key, p.calls, p.errors, p.cost_usd) for p in points] == [
        (T0, "a", 2, 1, Decimal("0.030")),
        (T0 + timedelta(hours=1), "b", 1, 0, Decimal("0.5")),
    ]
    assert points[0].latency_p50_ms == 200
    assert points[1].output_tokens == 7
    (total,) = series(conn, CallFilter(since=T0, until=T0 + timedelta(hours=1)), timedelta(hours=1))
    assert (total.key, total.calls) == (None, 2)


def test_series_aligns_buckets_on_since(conn: psycopg.Connection[Any]) -> None:
    since = T0 + timedelta(minutes=7)
    insert(conn, [Call(since + timedelta(minutes=1)), Call(since + timedelta(minutes=31))])
    points = series(conn, CallFilter(since=since, until=since + timedelta(hours=1)), timedelta(minutes=30))
    assert [p.bucket for p in points] == [since, since + timedelta(minutes=30)]
    assert bucket_starts(since, since + timedelta(hours=1), timedelta(minutes=30)) == [p.bucket for p in points]


def test_series_groups_by_app_attribute_and_tags(conn: psycopg.Connection[Any]) -> None:
    insert(
        conn,
        [
            Call(T0, attributes={"tokentrail.app.company_id": "acme"}, tags=["x", "y"]),
            Call(T0, attributes={"tokentrail.app.company_id": "acme"}),
        ],
    )
    where = CallFilter(since=T0, until=T0 + timedelta(hours=1))
    assert [(p.key, p.calls) for p in series(conn, where, timedelta(hours=1), "attr:company_id")] == [("acme", 2)]
    assert [(p.key, p.calls) for p in series(conn, where, timedelta(hours=1), "tag")] == [
        ("x", 1),
        ("y", 1),
        (None, 1),
    ]


def test_too_many_buckets_and_bad_groupings_are_refused(conn: psycopg.Connection[Any]) -> None:
    where = CallFilter(since=T0, until=T0 + timedelta(days=365))
    with pytest.raises(ValueError, match="more than"):
        series(conn, where, timedelta(seconds=1))
    with pytest.raises(ValueError, match="cannot group"):
        series(conn, CallFilter(), timedelta(hours=1), "planet")
