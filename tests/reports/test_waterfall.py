"""tokentrail.reports.waterfall: a stored trace on its time line, against a real, migrated PostgreSQL database."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, Span, insert
from tokentrail.reports.waterfall import waterfall

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def test_waterfall_orders_spans_depth_first_with_offsets_categories_and_totals(conn: psycopg.Connection[Any]) -> None:
    trace = secrets.token_hex(16)
    ms = timedelta(milliseconds=1)
    server = Span(trace, "a" * 16, "POST /chat", NOW, 2000.0, kind=2)
    flow = Span(
        trace,
        "b" * 16,
        "invoke_workflow answer",
        NOW + 10 * ms,
        1500.0,
        parent_span_id=server.span_id,
        attributes={"gen_ai.operation.name": "invoke_workflow"},
    )
    tool = Span(
        trace,
        "c" * 16,
        "execute_tool search",
        NOW + 900 * ms,
        50.0,
        parent_span_id=flow.span_id,
        attributes={"gen_ai.operation.name": "execute_tool"},
    )
    first = Call(
        NOW + 20 * ms,
        duration_ms=800.0,
        trace_id=trace,
        span_id="d" * 16,
        parent_span_id=flow.span_id,
        input_tokens=100,
        output_tokens=10,
        cost=Decimal("0.002"),
    )
    failed = Call(
        NOW + 1000 * ms,
        duration_ms=1200.0,
        trace_id=trace,
        span_id="e" * 16,
        parent_span_id=server.span_id,
        status="error",
        error_type="overloaded_error",
        cost=None,
        input_tokens=None,
        output_tokens=None,
    )
    counted = Call(
        NOW + 30 * ms,
        duration_ms=5.0,
        trace_id=trace,
        span_id="f" * 16,
        parent_span_id=flow.span_id,
        operation="count_tokens",
        input_tokens=999,
        output_tokens=None,
        cost=None,
    )
    insert(conn, [server, flow, tool, first, failed, counted, Call(NOW, trace_id=secrets.token_hex(16))])

    found = waterfall(conn, trace.upper())
    assert found is not None
    assert [(r.span_id[0], r.depth, r.category) for r in found.rows] == [
        ("a", 0, "server"),
        ("b", 1, "workflow"),
        ("d", 2, "llm"),
        ("f", 2, "llm"),
        ("c", 2, "tool"),
        ("e", 1, "llm"),
    ]
    by_id = {r.span_id[0]: r for r in found.rows}
    assert by_id["c"].offset_ms == pytest.approx(900.0)
    assert by_id["e"].status_code == 2
    assert by_id["e"].llm is not None
    assert found.wall_ms == pytest.approx(2200.0)  # the failed call ends after the server span
    assert (found.spans, found.calls, found.errors) == (6, 3, 1)
    assert (found.input_tokens, found.output_tokens, found.cost_usd) == (100, 10, Decimal("0.002"))
    assert found.trace_id == trace
    assert waterfall(conn, secrets.token_hex(16)) is None
