"""Nothing is lost when a part of the pipeline goes away: the sink, the collector (with data in its persistent
queue), or Postgres behind a running sink. Every call made meanwhile arrives in Postgres exactly once.

Each test makes its calls while the fault is in place, uses Jaeger (a separate collector pipeline that stays up) as
proof that the collector has accepted them, then heals the fault and waits for the rows.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.conftest import AnswerApp, SinkControl, wait_for_rows
from tests.fixtures.postgres import PgCluster
from tests.fixtures.stack import Collector, Jaeger
from tokentrail.dev.demo import wait_until

pytestmark = pytest.mark.postgres

CALLS = 6


def make_calls(app: AnswerApp, count: int = CALLS) -> list[str]:
    """`count` single-call /chat requests, each in a trace of its own; returns the trace ids."""
    trace_ids = [secrets.token_hex(16) for _ in range(count)]

    def call(trace_id: str) -> int:
        response = httpx.post(
            f"{app.url}/chat",
            json={"message": f"fault test {trace_id}", "stream": trace_id < "8"},
            headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01", "x-user-id": "fault-tester"},
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(pool.map(call, trace_ids)) == [200] * count
    return trace_ids


def wait_until_collected(jaeger: Jaeger, trace_ids: list[str]) -> None:
    """Every trace has reached Jaeger: the collector accepted the batch (and so queued it for the sink too)."""

    def all_there() -> bool:
        return all(jaeger.get_trace(trace_id) for trace_id in trace_ids)

    wait_until(f"{len(trace_ids)} traces in Jaeger", all_there, 60)


def wait_until_queued(collector: Collector) -> None:
    """The collector holds spans for the sink in its sending queue (the persistent one, on disk)."""

    def queued() -> bool:
        return collector.metric("otelcol_exporter_queue_size", exporter="otlp_http/sink") > 0

    wait_until("spans queued for the sink", queued, 30)


def assert_stored_once(database_url: str, trace_ids: list[str]) -> None:
    sql = "SELECT count(*) FROM llm_calls WHERE trace_id = ANY(%s)"
    assert wait_for_rows(database_url, sql, trace_ids, expected=len(trace_ids), timeout=90) == len(trace_ids)
    with psycopg.connect(database_url) as conn:
        per_trace: dict[str, int] = dict(
            conn.execute(
                "SELECT trace_id, count(*) FROM llm_calls WHERE trace_id = ANY(%s) GROUP BY trace_id", (trace_ids,)
            ).fetchall()
        )
    assert per_trace == dict.fromkeys(trace_ids, 1)
    server_spans = "SELECT count(*) FROM spans WHERE trace_id = ANY(%s) AND kind = 2"  # the requests' spans too
    assert wait_for_rows(database_url, server_spans, trace_ids, expected=len(trace_ids)) == len(trace_ids)


def test_sink_outage(collector: Collector, jaeger: Jaeger, sink: SinkControl, start_answer_app: Any) -> None:
    app: AnswerApp = start_answer_app(collector.otlp_http_endpoint)
    sink.stop()
    trace_ids = make_calls(app)
    wait_until_collected(jaeger, trace_ids)
    wait_until_queued(collector)
    sink.start()
    assert_stored_once(sink.database_url, trace_ids)


def test_collector_restart_with_a_full_queue(
    collector: Collector, jaeger: Jaeger, sink: SinkControl, start_answer_app: Any
) -> None:
    app: AnswerApp = start_answer_app(collector.otlp_http_endpoint)
    sink.stop()
    trace_ids = make_calls(app)
    wait_until_collected(jaeger, trace_ids)
    wait_until_queued(collector)
    collector.restart()
    wait_until_queued(collector)  # the new process resumed the queue from disk
    sink.start()
    assert_stored_once(sink.database_url, trace_ids)


def test_postgres_outage_behind_a_running_sink(
    collector: Collector, jaeger: Jaeger, sink: SinkControl, pg_cluster: PgCluster, start_answer_app: Any
) -> None:
    app: AnswerApp = start_answer_app(collector.otlp_http_endpoint)
    pg_cluster.stop()
    try:
        trace_ids = make_calls(app)
        wait_until_collected(jaeger, trace_ids)
        wait_until("the sink to refuse with 503", lambda: _sink_refused(sink), 60)
    finally:
        pg_cluster.start()
    assert_stored_once(sink.database_url, trace_ids)


def _sink_refused(sink: SinkControl) -> bool:
    """Whether the sink has answered an export with 503 (from its own Prometheus metrics)."""
    return sink.metric("tokentrail_sink_requests_total", status="503") > 0
