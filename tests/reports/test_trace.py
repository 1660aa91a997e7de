"""tokentrail.reports.trace: a stored trace as a tree, against a real, migrated PostgreSQL database."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, Span, insert
from tokentrail.reports import trace as trace_module

pytestmark = pytest.mark.postgres

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_trace_tree_nests_spans_and_joins_llm_calls(conn: psycopg.Connection[Any]) -> None:
    trace = secrets.token_hex(16)
    t0 = NOW - timedelta(minutes=1)
    root = Span(trace, "a" * 16, "POST /chat", t0, 1500.0, kind=2)
    step = Span(trace, "b" * 16, "retrieve", t0 + timedelta(milliseconds=10), 300.0, parent_span_id=root.span_id)
    inner = Call(
        t0 + timedelta(milliseconds=20),
        duration_ms=250.0,
        model="claude-haiku-4-5",
        trace_id=trace,
        span_id="c" * 16,
        parent_span_id=step.span_id,
    )
    main = Call(
        t0 + timedelta(milliseconds=400),
        duration_ms=1000.0,
        trace_id=trace,
        span_id="d" * 16,
        parent_span_id=root.span_id,
        status="error",
        error_type="overloaded_error",
        cost=None,
    )
    orphan = Span(trace, "e" * 16, "late step", t0 + timedelta(milliseconds=5), 5.0, parent_span_id="f" * 16)
    other_trace = Call(t0, trace_id=secrets.token_hex(16))
    insert(conn, [root, step, inner, main, orphan, other_trace])

    roots = trace_module.trace_tree(conn, trace.upper())
    assert [(n.span_id, n.orphan) for n in roots] == [(root.span_id, False), (orphan.span_id, True)]
    assert [c.name for c in roots[0].children] == ["retrieve", "chat claude-sonnet-4-5"]
    haiku = roots[0].children[0].children[0]
    assert haiku.llm == trace_module.LlmInfo("chat", "claude-haiku-4-5", 100, 20, Decimal("0.001"), "ok", None)
    failed = roots[0].children[1]
    assert failed.llm is not None
    assert (failed.llm.status, failed.llm.error_type, failed.status_code) == ("error", "overloaded_error", 2)
    assert roots[0].llm is None
    assert sum(1 for r in roots for _ in r.walk()) == 5
    assert trace_module.trace_tree(conn, secrets.token_hex(16)) == []


def test_trace_tree_survives_parent_cycles_and_calls_without_spans(conn: psycopg.Connection[Any]) -> None:
    trace = secrets.token_hex(16)
    a = Span(trace, "1" * 16, "a", NOW, 10.0, parent_span_id="2" * 16)
    b = Span(trace, "2" * 16, "b", NOW + timedelta(milliseconds=1), 10.0, parent_span_id="1" * 16)
    lone = Call(NOW + timedelta(milliseconds=2), trace_id=trace, span_id="3" * 16, with_span=False)
    insert(conn, [a, b, lone])
    roots = trace_module.trace_tree(conn, trace)
    spans = [n for r in roots for n in r.walk()]
    assert sorted(n.span_id for n in spans) == ["1" * 16, "2" * 16, "3" * 16]
    assert any(n.orphan for n in roots)
    lone_node = next(n for n in spans if n.span_id == "3" * 16)
    assert lone_node.name == "chat claude-sonnet-4-5"
    assert lone_node.llm is not None
