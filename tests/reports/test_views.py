"""The SQL views the migrations create (what people query directly), against a real, migrated database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, insert

pytestmark = pytest.mark.postgres

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _view(conn: psycopg.Connection[Any], query: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(query).fetchall()]


def test_views(conn: psycopg.Connection[Any]) -> None:
    day1, day2 = NOW - timedelta(days=1), NOW
    insert(
        conn,
        [
            Call(
                day1,
                duration_ms=100.0,
                input_tokens=1000,
                output_tokens=10,
                cache_read=400,
                cost=Decimal("0.01"),
                user="alice",
                ttfc_ms=50.0,
                prompt_name="p",
                prompt_version="v1",
            ),
            Call(
                day1,
                duration_ms=300.0,
                input_tokens=1000,
                output_tokens=30,
                cache_read=0,
                cost=Decimal("0.02"),
                user="alice",
                ttfc_ms=70.0,
                prompt_name="p",
                prompt_version="v1",
            ),
            Call(
                day1,
                duration_ms=900.0,
                status="error",
                error_type="rate_limit_error",
                input_tokens=None,
                output_tokens=None,
                cache_read=None,
                cost=None,
                user="bob",
                prompt_name="p",
                prompt_version="v2",
            ),
            Call(
                day2,
                duration_ms=200.0,
                model="claude-haiku-4-5",
                input_tokens=10,
                output_tokens=5,
                cache_read=0,
                cost=Decimal("0.001"),
                status="error",
                error_type=None,
            ),
        ],
    )
    d1, d2 = day1.date(), day2.date()
    sonnet, haiku = "claude-sonnet-4-5", "claude-haiku-4-5"
    assert _view(conn, "SELECT * FROM llm_daily_cost ORDER BY day, request_model") == [
        (d1, sonnet, 3, 2000, 40, Decimal("0.03")),
        (d2, haiku, 1, 10, 5, Decimal("0.001")),
    ]
    assert _view(conn, "SELECT * FROM llm_cost_by_user ORDER BY day, user_id NULLS LAST") == [
        (d1, "alice", 2, 2000, 40, Decimal("0.03")),
        (d1, "bob", 1, 0, 0, Decimal("0")),
        (d2, None, 1, 10, 5, Decimal("0.001")),
    ]
    assert _view(conn, "SELECT * FROM llm_latency_by_model ORDER BY day") == [
        (d1, sonnet, 3, 300.0, pytest.approx(840.0), pytest.approx(888.0), 60.0, pytest.approx(69.0)),
        (d2, haiku, 1, 200.0, 200.0, 200.0, None, None),
    ]
    assert _view(conn, "SELECT * FROM llm_errors_daily ORDER BY day") == [
        (d1, sonnet, "rate_limit_error", 1, 3, pytest.approx(1 / 3)),
        (d2, haiku, "unknown", 1, 1, 1.0),
    ]
    assert _view(conn, "SELECT * FROM llm_cache_daily ORDER BY day") == [
        (d1, sonnet, 3, 2000, 400, 0, pytest.approx(0.2)),
        (d2, haiku, 1, 10, 0, 0, 0.0),
    ]
    rows = _view(conn, "SELECT * FROM llm_prompt_versions ORDER BY prompt_version")
    assert rows == [
        ("p", "v1", day1, day1, 2, 1.0, 200.0, pytest.approx(290.0), Decimal("0.015"), 20.0),
        ("p", "v2", day1, day1, 1, 0.0, 900.0, 900.0, None, None),
    ]
    comments = _view(
        conn,
        "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c WHERE c.relkind = 'v' "
        "AND c.relname LIKE 'llm\\_%' ORDER BY 1",
    )
    assert [name for name, _ in comments] == [
        "llm_cache_daily",
        "llm_cost_by_user",
        "llm_daily_cost",
        "llm_errors_daily",
        "llm_latency_by_model",
        "llm_prompt_versions",
        "llm_retried_calls",
        "llm_token_counts_daily",
        "llm_tool_calls",
    ]
    assert all(comment for _, comment in comments)
