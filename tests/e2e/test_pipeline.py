"""The product path, end to end: the example FastAPI app (zero-code instrumented with `opentelemetry-instrument`)
calls the stand-in API three times per request; its spans go over OTLP to the real collector, which fans out to the
real Jaeger and to the real tokentrail sink, which writes Postgres. One request is followed into both stores."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.e2e.conftest import APP_SERVICE, AnswerApp, SinkControl, wait_for_rows
from tests.fixtures.stack import Collector, Jaeger, TraceSpan, trace_spans
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.dev.demo import wait_until
from tokentrail.dev.standin import StandinServer

pytestmark = pytest.mark.postgres

# Anthropic's published list prices, USD per million tokens: input, output, cache read, 5-minute cache write; stated
# here independently of the pricing data tokentrail uses (https://www.anthropic.com/pricing).
PUBLISHED_PRICES = {
    "claude-haiku-4-5": (Decimal("1.00"), Decimal("5.00"), Decimal("0.10"), Decimal("1.25")),
    "claude-sonnet-4-6": (Decimal("3.00"), Decimal("15.00"), Decimal("0.30"), Decimal("3.75")),
}
QUESTION = "How long does a refund for the annual plan take?"
SERVER_KIND, CLIENT_KIND = 2, 3  # OTLP SpanKind numbering


def traceparent() -> tuple[str, str]:
    """A W3C traceparent for a new sampled trace (the app continues it), and its trace id in hex."""
    trace_id = secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01", trace_id


def wait_for_jaeger_trace(jaeger: Jaeger, trace_id: str, ready: Any, timeout: float = 60.0) -> list[TraceSpan]:
    """Poll Jaeger until `ready(spans)` holds for the trace (spans arrive in batches)."""
    found: list[list[TraceSpan]] = [[]]

    def check() -> bool:
        trace = jaeger.get_trace(trace_id)
        found[0] = trace_spans(trace) if trace else []
        return bool(ready(found[0]))

    wait_until(f"trace {trace_id} in Jaeger", check, timeout)
    return found[0]


def ancestors(span: TraceSpan, by_id: Mapping[str, TraceSpan]) -> list[TraceSpan]:
    chain = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


def expected_cost(row: Mapping[str, Any]) -> Decimal:
    """The call's cost from its stored token counts (input includes the cache reads and writes, per semconv)."""
    price_in, price_out, price_read, price_write = PUBLISHED_PRICES[row["request_model"]]
    read, write = row["cache_read_tokens"] or 0, row["cache_write_tokens"] or 0
    uncached = row["input_tokens"] - read - write
    total = uncached * price_in + row["output_tokens"] * price_out + read * price_read + write * price_write
    return Decimal(total) / Decimal(1_000_000)


def test_answer_workflow_reaches_jaeger_and_postgres(
    collector: Collector,
    jaeger: Jaeger,
    sink: SinkControl,
    standin: StandinServer,
    start_answer_app: Any,
) -> None:
    app: AnswerApp = start_answer_app(collector.otlp_http_endpoint)
    header, trace_id = traceparent()
    response = httpx.post(
        f"{app.url}/answer",
        json={"question": QUESTION, "session_id": "sess-e2e"},
        headers={"traceparent": header, "x-user-id": "alice", "x-prompt-version": "v2"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["answer"]
    assert answer["sources"]
    assert len([r for r in standin.requests if r.path.startswith("/v1/messages")]) == 3  # three API calls made

    # --- Jaeger: the server span is the ancestor of exactly three LLM spans, which carry tokens, cost, content
    def complete(spans: list[TraceSpan]) -> bool:
        llm = [s for s in spans if semconv.GEN_AI_OPERATION_NAME in s.attributes and s.kind == CLIENT_KIND]
        return len(llm) >= 3 and any(s.kind == SERVER_KIND for s in spans)

    spans = wait_for_jaeger_trace(jaeger, trace_id, complete)
    by_id = {s.span_id: s for s in spans}
    server = next(s for s in spans if s.kind == SERVER_KIND)
    assert server.name == "POST /answer"
    assert server.resource["service.name"] == APP_SERVICE
    llm_spans = sorted(
        (s for s in spans if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_CHAT),
        key=lambda s: int(s.raw["startTimeUnixNano"]),
    )
    assert len(llm_spans) == 3  # one span per call: no second span from the SDK's own tracing
    assert not [s for s in spans if s.scope == anthropic_contract.SDK_NATIVE_SCOPE and s not in llm_spans]
    workflow = by_id[llm_spans[0].parent_span_id]
    assert workflow.name == semconv.span_name(semconv.OP_INVOKE_WORKFLOW, "answer")
    for span in llm_spans:
        assert span.kind == CLIENT_KIND
        assert span.parent_span_id == workflow.span_id
        assert server in ancestors(span, by_id)
        attributes = span.attributes
        assert attributes[semconv.GEN_AI_PROVIDER_NAME] == anthropic_contract.PROVIDER
        assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
        assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
        assert attributes[semconv.COST_USD] > 0
        assert attributes[semconv.USER_ID] == "alice"
        assert attributes[semconv.SESSION_ID] == "sess-e2e"
        assert attributes[semconv.PROMPT_VERSION] == "v2"
        assert json.loads(attributes[semconv.GEN_AI_INPUT_MESSAGES])
        assert json.loads(attributes[semconv.GEN_AI_OUTPUT_MESSAGES])
    understand, plan, synthesise = llm_spans
    assert [s.attributes[semconv.GEN_AI_REQUEST_MODEL] for s in llm_spans] == [
        "claude-haiku-4-5",
        "claude-sonnet-4-6",
        "claude-sonnet-4-6",
    ]
    assert QUESTION in understand.attributes[semconv.GEN_AI_INPUT_MESSAGES]
    assert semconv.FINISH_TOOL_CALL in plan.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]
    assert "search_docs" in plan.attributes[semconv.GEN_AI_TOOL_DEFINITIONS]
    assert synthesise.attributes[semconv.GEN_AI_REQUEST_STREAM] is True
    assert synthesise.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0

    # --- Postgres: the same three calls as typed rows, cost as published, content stored once by hash
    llm_rows = f"SELECT count(*) FROM llm_calls WHERE trace_id = '{trace_id}'"
    assert wait_for_rows(sink.database_url, llm_rows, expected=3) == 3
    span_rows = f"SELECT count(*) FROM spans WHERE trace_id = '{trace_id}'"
    assert wait_for_rows(sink.database_url, span_rows, expected=len(spans)) == len(spans)
    with psycopg.connect(sink.database_url, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT c.*, i.body AS input_body, o.body AS output_body, t.body AS tools_body FROM llm_calls c"
            " LEFT JOIN content_blobs i ON i.sha256 = c.input_sha256"
            " LEFT JOIN content_blobs o ON o.sha256 = c.output_sha256"
            " LEFT JOIN content_blobs t ON t.sha256 = c.tools_sha256"
            " WHERE c.trace_id = %s ORDER BY c.start_time",
            (trace_id,),
        ).fetchall()
        span_attributes = {
            r["span_id"]: r["attributes"]
            for r in conn.execute("SELECT span_id, attributes FROM spans WHERE trace_id = %s", (trace_id,))
        }
    assert set(span_attributes) == set(by_id)  # Jaeger and Postgres hold the same trace
    assert [row["span_id"] for row in rows] == [s.span_id for s in llm_spans]
    for row, span in zip(rows, llm_spans, strict=True):
        assert row["source"] == "tokentrail"
        assert row["status"] == "ok"
        assert row["service_name"] == APP_SERVICE
        assert row["parent_span_id"] == workflow.span_id
        assert (row["user_id"], row["session_id"]) == ("alice", "sess-e2e")
        assert (row["prompt_name"], row["prompt_version"], row["workflow_name"]) == ("answer", "v2", "answer")
        assert row["input_tokens"] == span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS]
        assert row["output_tokens"] == span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]
        assert row["cost_usd"] == pytest.approx(expected_cost(row), abs=Decimal("1e-10"))
        assert row["cost_source"]
        assert row["input_body"] == span.attributes[semconv.GEN_AI_INPUT_MESSAGES]
        assert row["output_body"] == span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]
        # the body is stored once, in content_blobs; the span row keeps only its hash
        assert span_attributes[row["span_id"]][semconv.GEN_AI_INPUT_MESSAGES] == {
            "sha256": hashlib.sha256(row["input_body"].encode()).hexdigest()
        }
    assert QUESTION in rows[0]["input_body"]
    # the cached system prompt and tools: written by the tool-use call, read back by the synthesis
    assert [(row["cache_read_tokens"] or 0, bool(row["cache_write_tokens"])) for row in rows[:2]] == [
        (0, False),
        (0, True),
    ]
    assert rows[2]["cache_read_tokens"] == rows[1]["cache_write_tokens"]
    assert rows[2]["cache_read_tokens"] == synthesise.attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]
    assert [bool(row["streaming"]) for row in rows] == [False, False, True]  # NULL: not a streaming call
    assert rows[0]["tools_body"] is None
    assert "search_docs" in rows[1]["tools_body"]
    assert semconv.FINISH_TOOL_CALL in rows[1]["finish_reasons"]
    assert rows[2]["time_to_first_chunk_ms"] > 0
    streamed = [p["content"] for m in json.loads(rows[2]["output_body"]) for p in m["parts"] if p["type"] == "text"]
    assert "".join(streamed) == answer["answer"]  # what the stream delivered is what was recorded


def test_failed_call_is_an_error_row_and_span(
    collector: Collector, jaeger: Jaeger, sink: SinkControl, start_answer_app: Any
) -> None:
    """An overloaded API: the app answers 503, the LLM span is an error with `overloaded_error`, in both stores."""
    app: AnswerApp = start_answer_app(collector.otlp_http_endpoint)
    header, trace_id = traceparent()
    response = httpx.post(
        f"{app.url}/answer",
        json={"question": "Anyone there?"},
        headers={"traceparent": header, "x-user-id": "bob", "x-standin-scenario": "overloaded"},
        timeout=60,
    )
    assert response.status_code == 503

    def failed_call(spans: list[TraceSpan]) -> bool:
        return any(s.attributes.get(semconv.ERROR_TYPE) == "overloaded_error" for s in spans) and any(
            s.kind == SERVER_KIND for s in spans
        )

    spans = wait_for_jaeger_trace(jaeger, trace_id, failed_call)
    llm = [s for s in spans if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_CHAT]
    assert len(llm) == 1  # the SDK's retry is inside the one call span
    assert llm[0].status_code == 2
    sql = f"SELECT count(*) FROM llm_calls WHERE trace_id = '{trace_id}' AND status = 'error'"
    assert wait_for_rows(sink.database_url, sql, expected=1) == 1
    with psycopg.connect(sink.database_url) as conn:
        row = conn.execute(
            "SELECT error_type, user_id, request_model FROM llm_calls WHERE trace_id = %s", (trace_id,)
        ).fetchone()
    assert row == ("overloaded_error", "bob", "claude-haiku-4-5")
