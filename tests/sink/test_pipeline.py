"""The pipeline under load and outages: 503 + Retry-After while every slot is processing or Postgres is away,
and every span stored exactly once once it is back."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx
import psycopg

from tests.fixtures import otlp
from tests.fixtures.sink import SinkFactory, post
from tokentrail.sink.background import BackgroundSink

# --- backpressure and outages -----------------------------------------------------------------------------------


def _metric(sink: BackgroundSink, name: str) -> float:
    for line in httpx.get(sink.url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(name)


def test_saturation_answers_503_with_retry_after_while_every_slot_is_processing(
    sink_factory: SinkFactory, database_url: str
) -> None:
    sink = sink_factory(max_inflight=1, retry_after_busy=2)
    answers: list[httpx.Response] = []
    with psycopg.connect(database_url) as conn:  # the only slot's write waits for this lock
        conn.execute("LOCK TABLE spans IN ACCESS EXCLUSIVE MODE")
        held = threading.Thread(
            target=lambda: answers.append(post(sink, otlp.body(otlp.request([otlp.span("held")])), otlp.PROTOBUF))
        )
        held.start()
        deadline = time.monotonic() + 10
        while _metric(sink, "tokentrail_sink_inflight_requests") < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        refused = post(sink, otlp.body(otlp.request([otlp.span("refused")])), otlp.PROTOBUF)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "2"
    held.join(30)
    assert [answer.status_code for answer in answers] == [200]
    assert otlp.count(database_url, "spans") == 1


def _batches(count: int, size: int) -> list[bytes]:
    return [
        otlp.body(otlp.request([otlp.span(f"b{b}s{i}", attributes=otlp.llm_attributes()) for i in range(size)]))
        for b in range(count)
    ]


def _send_like_a_collector(sink: BackgroundSink, bodies: Sequence[bytes], deadline: float, log: list[int]) -> None:
    """Retry each batch on 503 (honouring Retry-After, shortened for the test) until it is acknowledged."""
    with httpx.Client(base_url=sink.url, timeout=30) as http:
        for body in bodies:
            while True:
                response = http.post("/v1/traces", content=body, headers=otlp.PROTOBUF)
                log.append(response.status_code)
                if response.status_code == 200:
                    break
                assert response.status_code == 503, response.text
                assert "retry-after" in response.headers
                assert time.monotonic() < deadline, "Postgres did not come back in time"
                time.sleep(min(float(response.headers["retry-after"]), 0.2))


def test_postgres_outage_answers_503_then_stores_every_span_exactly_once(
    sink_factory: SinkFactory, pg_cluster: Any, database_url: str
) -> None:
    sink = sink_factory(retry_after_unavailable=1, breaker_seconds=0.2, acquire_timeout=1.0)
    bodies = _batches(12, 5)
    before: list[int] = []
    _send_like_a_collector(sink, bodies[:4], time.monotonic() + 30, before)
    assert before == [200] * 4

    pg_cluster.stop()
    try:
        refused = post(sink, bodies[4], otlp.PROTOBUF)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert httpx.get(sink.url + "/readyz").status_code == 503
        statuses: list[int] = []
        sender = threading.Thread(
            target=_send_like_a_collector, args=(sink, bodies[4:], time.monotonic() + 90, statuses)
        )
        sender.start()
        time.sleep(0.5)  # let a few retries meet the outage; correctness does not depend on how many
    finally:
        pg_cluster.start()
    sender.join()
    assert statuses.count(200) == 8
    assert set(statuses) <= {200, 503}

    # a collector retrying batches it already sent (lost acknowledgements) changes nothing
    for body in (bodies[0], bodies[4], bodies[11]):
        assert post(sink, body, otlp.PROTOBUF).status_code == 200
    assert otlp.counts(database_url)[:2] == (60, 60)
    assert otlp.count(database_url, "(SELECT DISTINCT trace_id, span_id FROM spans) AS d") == 60
    assert httpx.get(sink.url + "/readyz").status_code == 200
