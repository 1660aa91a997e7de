"""A bounded load run through the whole path: 200 requests, 8 at a time, from the example app through the collector
to the sink; every call becomes exactly one row and every request one server span, none lost, none doubled."""

from __future__ import annotations

import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.conftest import APP_SERVICE, AnswerApp, SinkControl, wait_for_rows
from tests.fixtures.stack import Collector

pytestmark = pytest.mark.postgres

REQUESTS = 200
CONCURRENCY = 8


def test_load_counts_match(collector: Collector, sink: SinkControl, start_answer_app: Any) -> None:
    app: AnswerApp = start_answer_app(collector.otlp_http_endpoint)
    run = secrets.token_hex(4)
    users = [f"load-{run}-{n}" for n in range(10)]

    with httpx.Client(base_url=app.url, timeout=60, limits=httpx.Limits(max_connections=CONCURRENCY)) as client:

        def call(number: int) -> int:
            response = client.post(
                "/chat",
                json={"message": f"load request {number}", "stream": number % 2 == 0},
                headers={"x-user-id": users[number % len(users)]},
            )
            return response.status_code

        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            statuses = Counter(pool.map(call, range(REQUESTS)))
    assert statuses == {200: REQUESTS}

    sql = "SELECT count(*) FROM llm_calls WHERE user_id = ANY(%s)"
    assert wait_for_rows(sink.database_url, sql, users, expected=REQUESTS, timeout=120) == REQUESTS
    with psycopg.connect(sink.database_url) as conn:
        per_user: dict[str, int] = dict(
            conn.execute(
                "SELECT user_id, count(*) FROM llm_calls WHERE user_id = ANY(%s) GROUP BY user_id", (users,)
            ).fetchall()
        )
        streamed = conn.execute(
            "SELECT count(*) FILTER (WHERE streaming), count(DISTINCT trace_id), count(*) FILTER (WHERE status = 'ok')"
            " FROM llm_calls WHERE user_id = ANY(%s)",
            (users,),
        ).fetchone()
    assert per_user == dict.fromkeys(users, REQUESTS // len(users))
    assert streamed == (REQUESTS // 2, REQUESTS, REQUESTS)  # half streamed, one trace per request, all ok
    server_spans = "SELECT count(*) FROM spans WHERE service_name = %s AND kind = 2 AND name = 'POST /chat'"
    assert wait_for_rows(sink.database_url, server_spans, APP_SERVICE, expected=REQUESTS) == REQUESTS
    assert sink.metric("tokentrail_sink_llm_calls_stored_total") == REQUESTS
