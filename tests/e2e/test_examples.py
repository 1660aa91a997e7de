"""The script examples run against the stand-in with `tokentrail.instrument()` exporting to the real sink, and what
they promise in their docstrings is what lands in Postgres."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.conftest import SinkControl, wait_for_rows
from tokentrail.contract import semconv
from tokentrail.dev.standin import StandinServer

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]


def _run_example(script: str, *args: str, sink: SinkControl, standin: StandinServer) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_", "ANTHROPIC_"))}
    env |= {
        "ANTHROPIC_BASE_URL": standin.base_url,
        "ANTHROPIC_API_KEY": "test",
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{sink.token}",
        "TOKENTRAIL_METRICS": "false",  # the sink takes traces only
        "PYTHONPATH": str(REPO),
    }
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _rows(database_url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


def test_background_worker_gives_each_job_its_own_trace(sink: SinkControl, standin: StandinServer) -> None:
    _run_example("background_worker.py", "--jobs", "3", "--interval", "0", sink=sink, standin=standin)
    count = "SELECT count(*) FROM llm_calls WHERE service_name = 'ticket-worker'"
    assert wait_for_rows(sink.database_url, count, expected=6) == 6
    rows = _rows(
        sink.database_url,
        "SELECT trace_id, array_agg(operation ORDER BY operation), array_agg(DISTINCT user_id),"
        " bool_and('worker' = ANY(tags)), array_agg(DISTINCT attributes->>%s)"
        " FROM llm_calls WHERE service_name = 'ticket-worker' GROUP BY trace_id",
        semconv.APP_ATTRIBUTE_PREFIX + "ticket_id",
    )
    assert len(rows) == 3  # one trace per job: no request to share
    for _trace, operations, users, tagged, tickets in rows:
        assert operations == ["chat", "count_tokens"]
        assert len(users) == 1
        assert users[0] in {"globex", "initech", "umbrella"}
        assert tagged
        assert len(tickets) == 1
        assert str(tickets[0]).startswith("T-100")
    # the job span is the root of each trace and the parent of both calls
    roots = _rows(
        sink.database_url,
        "SELECT s.name, count(c.span_id) FROM spans s JOIN llm_calls c"
        " ON c.trace_id = s.trace_id AND c.parent_span_id = s.span_id"
        " WHERE s.parent_span_id IS NULL AND s.service_name = 'ticket-worker' GROUP BY s.trace_id, s.name",
    )
    assert len(roots) == 3
    assert all("triage_ticket" in str(name) and calls == 2 for name, calls in roots)


def test_rag_pipeline_nests_calls_under_workflow_steps(sink: SinkControl, standin: StandinServer) -> None:
    _run_example("rag_pipeline.py", "Can I get a refund?", "--user", "ursula", sink=sink, standin=standin)
    count = "SELECT count(*) FROM llm_calls WHERE service_name = 'rag-pipeline'"
    assert wait_for_rows(sink.database_url, count, expected=3) == 3
    rows = _rows(
        sink.database_url,
        "SELECT c.request_model, parent.name, c.user_id, c.prompt_version, c.trace_id FROM llm_calls c"
        " JOIN spans parent ON parent.trace_id = c.trace_id AND parent.span_id = c.parent_span_id"
        " WHERE c.service_name = 'rag-pipeline' ORDER BY c.start_time",
    )
    assert [(model, str(step).rsplit(" ", 1)[-1]) for model, step, *_ in rows] == [
        ("claude-haiku-4-5", "expand_query"),
        ("claude-haiku-4-5", "rerank"),
        ("claude-sonnet-4-6", "compose"),
    ]
    assert {(user, version) for _, _, user, version, _ in rows} == {("ursula", "2025-11-rag-v3")}
    assert len({trace for *_, trace in rows}) == 1


def test_async_streaming_chat_keeps_attributes_per_task(sink: SinkControl, standin: StandinServer) -> None:
    output = _run_example("async_streaming_chat.py", "--conversations", "3", "--quiet", sink=sink, standin=standin)
    assert "3 conversations" in output
    count = "SELECT count(*) FROM llm_calls WHERE service_name = 'streaming-chat'"
    assert wait_for_rows(sink.database_url, count, expected=8) == 8  # 3 + 3 + 2 turns
    rows = _rows(
        sink.database_url,
        "SELECT conversation_id, array_agg(DISTINCT user_id), array_agg(DISTINCT session_id), count(*),"
        " bool_and(streaming), bool_and(time_to_first_chunk_ms IS NOT NULL AND output_tokens > 0)"
        " FROM llm_calls WHERE service_name = 'streaming-chat' GROUP BY conversation_id",
    )
    by_user = {
        users[0]: (sessions, turns, streamed, complete) for _, users, sessions, turns, streamed, complete in rows
    }
    assert by_user == {
        "ana": (["web-ana"], 3, True, True),
        "ben": (["web-ben"], 3, True, True),
        "chloe": (["web-chloe"], 2, True, True),
    }
