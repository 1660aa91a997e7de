"""One call, one row, through the real sink into real Postgres: a call that the SDK's own tracing and a peer
instrumentation both report is stored once, whatever the order, the batching, the retries and the replicas."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.fixtures import otlp
from tests.fixtures.sink import SinkFactory
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.sink.background import BackgroundSink

pytestmark = pytest.mark.postgres

MODEL = "claude-sonnet-4-5"
MS = 1_000_000
PEER_SCOPES = {
    "openllmetry": "opentelemetry.instrumentation.anthropic",
    "openinference": "openinference.instrumentation.anthropic",
    "otel-genai": "opentelemetry.instrumentation.genai.anthropic",
}


def sdk_span(trace_id: bytes, parent: bytes, start: int, **facts: Any) -> Span:
    """The span the SDK's own tracing (1.14+) makes for one call, inside the peer's span."""
    attributes = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT,
        semconv.GEN_AI_PROVIDER_NAME: anthropic_contract.PROVIDER,
        semconv.GEN_AI_REQUEST_MODEL: MODEL,
        **facts,
    }
    return otlp.span(
        "anthropic.messages.create",
        trace_id=trace_id,
        parent_span_id=parent,
        start_ns=start + MS,
        duration_ns=200 * MS,
        kind=Span.SPAN_KIND_CLIENT,
        attributes=attributes,
        status_code=2 if semconv.ERROR_TYPE in facts else 0,
    )


def peer_span(peer: str, trace_id: bytes, parent: bytes, start: int, **facts: Any) -> Span:
    """The span a peer instrumentation makes around the SDK method, in the shape each really writes."""
    model = facts.pop(semconv.GEN_AI_REQUEST_MODEL, MODEL)
    failed = semconv.ERROR_TYPE in facts
    if peer == "openinference":
        attributes: dict[str, Any] = {
            "openinference.span.kind": "LLM",
            "llm.provider": "anthropic",
            "llm.model_name": model,
            "llm.invocation_parameters": f'{{"model": "{model}", "max_tokens": 64}}',
        }
        if semconv.GEN_AI_USAGE_INPUT_TOKENS in facts:
            attributes["llm.token_count.prompt"] = facts[semconv.GEN_AI_USAGE_INPUT_TOKENS]
            attributes["llm.token_count.completion"] = facts[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]
        if semconv.GEN_AI_RESPONSE_ID in facts:
            attributes["output.value"] = f'{{"id": "{facts[semconv.GEN_AI_RESPONSE_ID]}", "content": []}}'
        name = "Messages"
    else:
        attributes = {
            semconv.GEN_AI_SYSTEM: "anthropic",
            semconv.GEN_AI_REQUEST_MODEL: model,
            **facts,
            semconv.GEN_AI_INPUT_MESSAGES: '[{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]',
        }
        if peer == "openllmetry":
            attributes["llm.request.type"] = "chat"
            name = "anthropic.chat"
        else:
            attributes[semconv.GEN_AI_OPERATION_NAME] = semconv.OP_CHAT
            name = f"chat {model}"
    return otlp.span(
        name,
        trace_id=trace_id,
        parent_span_id=parent,
        start_ns=start,
        duration_ns=203 * MS,
        kind=Span.SPAN_KIND_CLIENT,
        attributes=attributes,
        status_code=2 if failed else 0,
    )


def usage(response_id: str | None = None, input_tokens: int = 1230, output_tokens: int = 300) -> dict[str, Any]:
    facts: dict[str, Any] = {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
    }
    if response_id:
        facts[semconv.GEN_AI_RESPONSE_ID] = response_id
    return facts


class Call:
    """One API call as two reports: the peer's span and the SDK's inside it."""

    def __init__(self, peer: str, trace_id: bytes, parent: bytes, start: int, **facts: Any) -> None:
        self.peer = peer
        self.outer = peer_span(peer, trace_id, parent, start, **dict(facts))
        self.inner = sdk_span(trace_id, self.outer.span_id, start, **facts)


def export(sink: BackgroundSink, spans: Sequence[Span]) -> None:
    """One OTLP request, each span under its own instrumentation scope (as an SDK export groups them)."""
    requests = [
        otlp.request(
            [s], scope=anthropic_contract.SDK_NATIVE_SCOPE if s.name.startswith("anthropic.messages") else scope
        )
        for s in spans
        for scope in [_scope_of(s)]
    ]
    merged = requests[0]
    for other in requests[1:]:
        merged.resource_spans.extend(other.resource_spans)
    response = httpx.post(sink.traces_url, content=otlp.body(merged), headers=otlp.PROTOBUF, timeout=30)
    assert response.status_code == 200, response.text


def _scope_of(span: Span) -> str:
    if span.name == "Messages":
        return PEER_SCOPES["openinference"]
    if span.name == "anthropic.chat":
        return PEER_SCOPES["openllmetry"]
    return PEER_SCOPES["otel-genai"]


def calls(database_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM llm_calls ORDER BY start_time, span_id").fetchall()


def app_span(trace_id: bytes) -> Span:
    return otlp.span("POST /answer", trace_id=trace_id, kind=Span.SPAN_KIND_SERVER, duration_ns=5_000 * MS)


@pytest.mark.parametrize("peer", list(PEER_SCOPES))
def test_a_call_reported_by_a_peer_and_the_sdk_is_one_row(sink: BackgroundSink, database_url: str, peer: str) -> None:
    trace_id, _ = otlp.new_ids()
    root = app_span(trace_id)
    call = Call(peer, trace_id, root.span_id, otlp.T0 + 10 * MS, **usage("msg_1"))
    export(sink, [call.inner, call.outer, root])
    rows = calls(database_url)
    assert len(rows) == 1
    row = rows[0]
    assert row["source"] == "anthropic-sdk"
    assert row["sources"] == ["anthropic-sdk", peer]
    assert row["span_id"] == call.inner.span_id.hex()
    assert sorted(row["member_span_ids"]) == sorted([call.inner.span_id.hex(), call.outer.span_id.hex()])
    assert (row["input_tokens"], row["output_tokens"]) == (1230, 300)
    assert row["cost_usd"] > 0
    assert otlp.count(database_url, "spans") == 3  # every span is kept for the trace tree
    if peer != "openinference":
        assert row["input_sha256"] is not None  # the peer's content, which the SDK's span did not carry


def _fingerprint(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["span_id"], r["source"], r["sources"], r["input_tokens"], r["output_tokens"], r["cost_usd"], r["status"])
        for r in rows
    ]


@pytest.mark.parametrize("order", ["sdk-first", "peer-first"])
def test_order_and_separate_requests_do_not_matter_and_resending_changes_nothing(
    sink: BackgroundSink, database_url: str, order: str
) -> None:
    trace_id, _ = otlp.new_ids()
    root = app_span(trace_id)
    call = Call("openllmetry", trace_id, root.span_id, otlp.T0, **usage("msg_1"))
    first, second = (call.inner, call.outer) if order == "sdk-first" else (call.outer, call.inner)
    export(sink, [first])
    assert len(calls(database_url)) == 1
    export(sink, [second, root])
    settled = calls(database_url)
    assert len(settled) == 1
    assert settled[0]["sources"] == ["anthropic-sdk", "openllmetry"]
    for resend in ([first], [second], [first, second, root]):
        export(sink, resend)
        assert _fingerprint(calls(database_url)) == _fingerprint(settled)
    assert otlp.count(database_url, "spans") == 3


def test_the_same_calls_in_any_arrival_give_the_same_rows(sink_factory: SinkFactory, pg_cluster: Any) -> None:
    """Three calls (one streamed, one failed) reported by a peer and the SDK, delivered all at once into one
    database and one span at a time, reversed, into another: the rows are the same."""
    trace_id, _ = otlp.new_ids()
    root = app_span(trace_id)
    spans: list[Span] = [root]
    for index, facts in enumerate(
        [
            usage("msg_a"),
            {**usage("msg_b", 50, 20), semconv.GEN_AI_REQUEST_STREAM: True},
            {semconv.ERROR_TYPE: "overloaded_error"},
        ]
    ):
        call = Call("otel-genai", trace_id, root.span_id, otlp.T0 + index * 300 * MS, **facts)
        spans += [call.outer, call.inner]
    results = []
    for name, deliveries in (("all_at_once", [spans]), ("one_by_one", [[s] for s in reversed(spans)])):
        url = pg_cluster.create_database(f"t_order_{name}_{trace_id.hex()[:6]}", template="tokentrail_template")
        sink = sink_factory(database_url=url)
        for delivery in deliveries:
            export(sink, delivery)
        results.append(_fingerprint(calls(url)))
    assert results[0] == results[1]
    assert len(results[0]) == 3
    failed = [row for row in results[0] if row[6] == "error"]
    assert len(failed) == 1


def test_separate_calls_stay_separate(sink: BackgroundSink, database_url: str) -> None:
    """An application's retry (a failed call, then a second request), two calls with the same model back to back,
    and an agent loop's three turns: seven calls, each reported twice, are seven rows with their own tokens."""
    trace_id, _ = otlp.new_ids()
    root = app_span(trace_id)
    t = otlp.T0
    reported = [
        Call("openllmetry", trace_id, root.span_id, t, **{semconv.ERROR_TYPE: "rate_limit_error"}),
        Call("openllmetry", trace_id, root.span_id, t + 250 * MS, **usage("msg_retry", 100, 10)),
        Call("openllmetry", trace_id, root.span_id, t + 500 * MS, **usage("msg_x", 200, 20)),
        Call("openllmetry", trace_id, root.span_id, t + 501 * MS, **usage("msg_y", 200, 20)),
    ]
    turn_parent = otlp.span("invoke_agent helper", trace_id=trace_id, parent_span_id=root.span_id)
    for turn in range(3):
        start = t + (1000 + 300 * turn) * MS
        reported.append(Call("openllmetry", trace_id, turn_parent.span_id, start, **usage(f"msg_t{turn}", 1000, 50)))
    export(sink, [root, turn_parent, *(s for c in reported for s in (c.outer, c.inner))])
    rows = calls(database_url)
    assert len(rows) == 7
    assert all(row["sources"] == ["anthropic-sdk", "openllmetry"] for row in rows)
    assert sum(row["input_tokens"] or 0 for row in rows) == 100 + 200 + 200 + 3 * 1000
    assert [row["status"] for row in rows].count("error") == 1


def test_spans_of_one_instrumentation_are_never_merged(sink: BackgroundSink, database_url: str) -> None:
    """tokentrail alone (or any one source) takes the plain path: no reports are kept, each span is its call."""
    trace_id, _ = otlp.new_ids()
    outer = otlp.span("chat", trace_id=trace_id, attributes=otlp.llm_attributes())
    inner = otlp.span("chat", trace_id=trace_id, parent_span_id=outer.span_id, attributes=otlp.llm_attributes())
    body = otlp.body(otlp.request([outer, inner]))  # tokentrail's scope
    assert httpx.post(sink.traces_url, content=body, headers=otlp.PROTOBUF).status_code == 200
    rows = calls(database_url)
    assert [row["sources"] for row in rows] == [["tokentrail"], ["tokentrail"]]
    assert otlp.count(database_url, "llm_call_reports") == 0


def test_two_sink_replicas_writing_the_two_reports_at_once_keep_one_row(
    sink_factory: SinkFactory, database_url: str
) -> None:
    """Forty calls, each peer span sent to one replica and its SDK span to the other at the same moment."""
    replicas = [sink_factory(), sink_factory()]
    work: list[list[Span]] = [[], []]
    for index in range(40):
        trace_id, _ = otlp.new_ids()
        call = Call("openinference", trace_id, b"", otlp.T0 + index * MS, **usage(f"msg_{index}"))
        work[index % 2].append(call.outer)
        work[1 - index % 2].append(call.inner)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def send(replica: BackgroundSink, spans: list[Span]) -> None:
        try:
            barrier.wait()
            for span in spans:
                export(replica, [span])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(replicas[i], work[i])) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    rows = calls(database_url)
    assert len(rows) == 40
    assert {tuple(row["sources"]) for row in rows} == {("anthropic-sdk", "openinference")}
    assert sum(row["input_tokens"] for row in rows) == 40 * 1230


def test_views_and_reports_count_a_merged_call_once(sink: BackgroundSink, database_url: str) -> None:
    trace_id, _ = otlp.new_ids()
    call = Call("openllmetry", trace_id, b"", otlp.T0, **usage("msg_1", 1000, 100))
    export(sink, [call.outer, call.inner])
    with psycopg.connect(database_url) as conn:
        daily = conn.execute("SELECT calls, input_tokens, output_tokens FROM llm_daily_cost").fetchall()
        cost = conn.execute("SELECT cost_usd FROM llm_calls").fetchone()
    assert daily == [(1, 1000, 100)]
    assert cost is not None
    assert isinstance(cost[0], Decimal)


def test_the_merged_row_keeps_the_tool_calls_of_the_peer_output(sink: BackgroundSink, database_url: str) -> None:
    trace_id, _ = otlp.new_ids()
    root = app_span(trace_id)
    output = json.dumps(
        [{"role": "assistant", "parts": [{"type": "tool_call", "id": "toolu_7", "name": "lookup", "arguments": {}}]}]
    )
    call = Call("otel-genai", trace_id, root.span_id, otlp.T0 + 10 * MS, **usage("msg_7"))
    call.outer.attributes.extend(otlp.key_values({semconv.GEN_AI_OUTPUT_MESSAGES: output}))
    export(sink, [call.inner, call.outer, root])
    (row,) = calls(database_url)
    assert row["sources"] == ["anthropic-sdk", "otel-genai"]
    assert (row["tool_names"], row["tool_call_ids"]) == (["lookup"], ["toolu_7"])
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT tool_name FROM llm_tool_calls").fetchall() == [("lookup",)]
