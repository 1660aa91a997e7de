"""Peer instrumentations, run for real against the stand-in, and their spans through `to_contract` and the sink.

Each peer is installed only in its own `nox -s interop` environment (their pins conflict), so in any other
environment its tests are skipped for that reason. What each peer records, including its known quirks, is data in
`PEERS` (each quirk with the peer behaviour it documents), so a peer release that changes one fails here and the
table is updated, rather than a test quietly asserting less.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv as sc
from tokentrail.dev.standin import ErrorReply, MessageReply, StandinServer, TextBlock, ToolUseBlock, Usage
from tokentrail.sink import facts
from tokentrail.sink.peers import to_contract

if TYPE_CHECKING:
    import anthropic

    from tokentrail.sink.background import BackgroundSink

pytestmark = pytest.mark.interop

MODEL = "claude-sonnet-4-6"
RESPONSE_MODEL = "claude-sonnet-4-6-20260101"
SYSTEM = "Be brief."
PROMPT = "Say hello to the interop test."
ANSWER = "Hello, interop test."
# Anthropic usage: input_tokens is the uncached part only. The contract's input total is 10 + 100 + 20.
USAGE = Usage(input_tokens=10, output_tokens=5, cache_read_input_tokens=100, cache_creation_input_tokens=20)
INPUT_TOTAL = 130
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


# --- the peers ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    source: str
    """The `source` that `to_contract` must give its call spans."""
    module: str
    """The module whose presence means the peer is installed."""
    instrument: Callable[[TracerProvider, InMemorySpanExporter], Callable[[], None]]
    """Instruments the SDK, its spans going to the exporter; returns the undo."""
    records_stop_sequences: bool = True
    stream_output_tokens_extra: int = 0
    """OpenLLMetry 0.5x-0.6x adds message_start's output_tokens (1) to message_delta's cumulative count."""
    records_tools: bool = True
    """Whether the span carries the request's tool definitions."""
    records_error_type: bool = True
    records_cost: bool = False
    records_stream_usage: bool = True
    """False for OpenLLMetry before 0.48, whose streamed calls' spans have no usage and no response model."""
    records_max_tokens: bool = True
    records_failures: bool = True
    """False for OpenLLMetry before 0.48, which ends no span for a call that raised."""
    distribution: tuple[str, str] | None = None
    """(distribution, version specifier) when only some releases of the module's distribution are this peer."""
    env: dict[str, str] = field(default_factory=dict)


def _instrumentor(module: str) -> Callable[[TracerProvider, InMemorySpanExporter], Callable[[], None]]:
    def instrument(provider: TracerProvider, exporter: InMemorySpanExporter) -> Callable[[], None]:
        instrumentor = importlib.import_module(module).AnthropicInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        return instrumentor.uninstrument  # type: ignore[no-any-return]

    return instrument


def _openlit(provider: TracerProvider, exporter: InMemorySpanExporter) -> Callable[[], None]:
    # OpenLIT takes the global tracer provider; without a local price file it fetches prices from the network.
    import openlit
    from openlit._instrumentors import MODULE_NAME_MAP
    from opentelemetry import trace

    trace.set_tracer_provider(provider)
    prices = {"chat": {MODEL: {"promptPrice": 0.003, "completionPrice": 0.015}}}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(prices, handle)
    openlit.init(
        disable_metrics=True,
        disable_events=True,
        pricing_json=handle.name,
        # Only its Anthropic instrumentation: the others would patch the sink's own web stack in this process.
        disabled_instrumentors=[name for name in MODULE_NAME_MAP if name != "anthropic"],
    )
    return lambda: None  # OpenLIT has no uninstrument; its nox session runs only these tests


def _logfire(provider: TracerProvider, exporter: InMemorySpanExporter) -> Callable[[], None]:
    import logfire

    logfire.configure(
        send_to_logfire=False,
        console=False,
        metrics=False,
        additional_span_processors=[SimpleSpanProcessor(exporter)],
    )
    undo = logfire.instrument_anthropic()
    undo.__enter__()  # instrumented already; leaving this context un-instruments
    return lambda: undo.__exit__(None, None, None)


PEERS = {
    "openllmetry": Peer(
        source="openllmetry",
        module="opentelemetry.instrumentation.anthropic",
        instrument=_instrumentor("opentelemetry.instrumentation.anthropic"),
        records_stop_sequences=False,
        stream_output_tokens_extra=1,
        distribution=("opentelemetry-instrumentation-anthropic", ">=0.48"),
        env={"TRACELOOP_TRACE_CONTENT": "true"},
    ),
    # The legacy generation (gen_ai.prompt.N.*, gen_ai.usage.prompt_tokens, llm.request.type), still widely deployed.
    "openllmetry-legacy": Peer(
        source="openllmetry",
        module="opentelemetry.instrumentation.anthropic",
        instrument=_instrumentor("opentelemetry.instrumentation.anthropic"),
        records_stop_sequences=False,
        records_stream_usage=False,
        records_max_tokens=False,
        records_failures=False,
        distribution=("opentelemetry-instrumentation-anthropic", "<0.48"),
        env={"TRACELOOP_TRACE_CONTENT": "true"},
    ),
    "openinference": Peer(
        source="openinference",
        module="openinference.instrumentation.anthropic",
        instrument=_instrumentor("openinference.instrumentation.anthropic"),
        records_error_type=False,
    ),
    "otel-genai": Peer(
        source="otel-genai",
        module="opentelemetry.instrumentation.genai.anthropic",
        instrument=_instrumentor("opentelemetry.instrumentation.genai.anthropic"),
        env={
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
            "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        },
    ),
    "openlit": Peer(
        source="openlit",
        module="openlit",
        instrument=_openlit,
        records_error_type=False,  # its span of a failed call has no attributes, only the name and status
        records_tools=False,
        records_cost=True,
    ),
    "logfire": Peer(source="logfire", module="logfire", instrument=_logfire, records_error_type=False),
}


def _installed(peer: Peer) -> bool:
    try:
        if importlib.util.find_spec(peer.module) is None:
            return False
    except ModuleNotFoundError:
        return False
    if peer.distribution is None:
        return True
    from importlib.metadata import version

    from packaging.specifiers import SpecifierSet

    name, specifier = peer.distribution
    return version(name) in SpecifierSet(specifier)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class Instrumented:
    peer: Peer
    exporter: InMemorySpanExporter
    provider: TracerProvider

    def calls(self) -> list[tuple[ReadableSpan, str, dict[str, Any]]]:
        """The finished spans that `to_contract` finds LLM calls in, as the sink sees them."""
        found = []
        for span in self.exporter.get_finished_spans():
            scope = span.instrumentation_scope.name if span.instrumentation_scope else None
            result = to_contract(span.name, scope, dict(span.attributes or {}))
            if result is not None:
                found.append((span, *result))
        return found

    def one_call(self) -> dict[str, Any]:
        calls = self.calls()
        assert len(calls) == 1, [(span.name, source) for span, source, _ in calls]
        _, source, attributes = calls[0]
        assert source == self.peer.source
        return attributes


@pytest.fixture(scope="module", params=list(PEERS))
def peer_session(request: pytest.FixtureRequest) -> Iterator[Instrumented]:
    """One peer instrumented for the whole module (several peers cannot be cleanly un-patched and re-patched)."""
    peer = PEERS[request.param]
    if not _installed(peer):
        pytest.skip(f"peer {request.param} is not installed here: it runs in `nox -s 'interop({request.param})'`")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with _environment({**peer.env, "ANTHROPIC_OPEN_TELEMETRY": "false"}):
        undo = peer.instrument(provider, exporter)
        try:
            yield Instrumented(peer, exporter, provider)
        finally:
            undo()
            provider.shutdown()


@pytest.fixture
def peer(peer_session: Instrumented) -> Instrumented:
    peer_session.exporter.clear()
    return peer_session


@pytest.fixture
def client(standin: StandinServer) -> Iterator[anthropic.Anthropic]:
    import anthropic

    with anthropic.Anthropic(api_key="test", base_url=standin.base_url, max_retries=0) as sdk_client:
        yield sdk_client


def _reply(**overrides: Any) -> MessageReply:
    values: dict[str, Any] = {
        "content": [TextBlock(ANSWER)],
        "model": RESPONSE_MODEL,
        "usage": USAGE,
        "id": "msg_interop_0001",
    }
    values.update(overrides)
    return MessageReply(**values)


def _messages(attributes: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = attributes[key]
    assert isinstance(value, str)
    messages = json.loads(value)
    assert isinstance(messages, list)
    return messages


def _texts(messages: list[dict[str, Any]]) -> str:
    return "".join(
        str(part.get("content", "")) for message in messages for part in message["parts"] if part["type"] == "text"
    )


# --- to_contract on the spans each peer really makes -------------------------------------------------------------


def test_non_streaming_call(peer: Instrumented, client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(_reply())
    client.messages.create(
        model=MODEL,
        max_tokens=64,
        system=SYSTEM,
        stop_sequences=["END"],
        messages=[{"role": "user", "content": PROMPT}],
    )
    attributes = peer.one_call()
    assert attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_CHAT
    assert attributes[sc.GEN_AI_PROVIDER_NAME] == anthropic_contract.PROVIDER
    assert attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert attributes[sc.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL
    assert attributes[sc.GEN_AI_RESPONSE_ID] == "msg_interop_0001"
    if peer.peer.records_max_tokens:
        assert attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOTAL
    assert attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 100
    assert attributes[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 20
    assert attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == [sc.FINISH_STOP]
    assert attributes.get(sc.GEN_AI_REQUEST_STREAM) in (None, False)
    if peer.peer.records_stop_sequences:
        assert attributes[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ["END"]
    assert _texts(_messages(attributes, sc.GEN_AI_INPUT_MESSAGES)) == PROMPT
    assert [m["role"] for m in _messages(attributes, sc.GEN_AI_INPUT_MESSAGES)] == ["user"]
    output = _messages(attributes, sc.GEN_AI_OUTPUT_MESSAGES)
    assert _texts(output) == ANSWER
    assert output[0]["role"] == "assistant"
    system = json.loads(attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS])
    assert [part["content"] for part in system] == [SYSTEM]
    if peer.peer.records_cost:
        assert attributes[sc.COST_USD] > 0
        assert attributes[sc.COST_SOURCE] == peer.peer.source
    # raw peer shapes of translated facts are not passed through next to the contract's
    assert not any(
        key.startswith(("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.")) for key in attributes
    )
    assert "gen_ai.usage.cache_creation.input_tokens" not in attributes


def test_streaming_call(peer: Instrumented, client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(_reply())
    stream = client.messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    text = "".join(
        event.delta.text for event in stream if event.type == "content_block_delta" and event.delta.type == "text_delta"
    )
    assert text == ANSWER
    attributes = peer.one_call()
    assert attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_CHAT
    assert attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert attributes[sc.GEN_AI_REQUEST_STREAM] is True
    if peer.peer.records_stream_usage:
        assert attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 5 + peer.peer.stream_output_tokens_extra
        assert attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOTAL
        assert attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 100
        assert attributes[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 20
    else:
        assert sc.GEN_AI_USAGE_INPUT_TOKENS not in attributes
    assert _texts(_messages(attributes, sc.GEN_AI_OUTPUT_MESSAGES)) == ANSWER
    assert _texts(_messages(attributes, sc.GEN_AI_INPUT_MESSAGES)) == PROMPT


def test_tool_use(peer: Instrumented, client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(_reply(content=[ToolUseBlock(name="get_weather", input={"city": "Paris"}, id="toolu_01")]))
    client.messages.create(
        model=MODEL,
        max_tokens=64,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
    )
    attributes = peer.one_call()
    assert attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == [sc.FINISH_TOOL_CALL]
    output = _messages(attributes, sc.GEN_AI_OUTPUT_MESSAGES)
    calls = [part for message in output for part in message["parts"] if part["type"] == "tool_call"]
    assert [(call["name"], call.get("id")) for call in calls] == [("get_weather", "toolu_01")]
    assert facts.tool_calls(attributes) == (["get_weather"], ["toolu_01"])  # the sink's tool_names / tool_call_ids
    arguments = calls[0]["arguments"]
    assert (json.loads(arguments) if isinstance(arguments, str) else arguments) == {"city": "Paris"}
    if peer.peer.records_tools:
        tools = json.loads(attributes[sc.GEN_AI_TOOL_DEFINITIONS])
        assert [tool["name"] for tool in tools] == ["get_weather"]


def test_failed_call(peer: Instrumented, client: anthropic.Anthropic, standin: StandinServer) -> None:
    import anthropic

    standin.enqueue(ErrorReply(status=429, error_type="rate_limit_error"))
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": PROMPT}])
    calls = peer.calls()
    if not peer.peer.records_failures:
        assert calls == []
        return
    assert len(calls) == 1
    span, source, attributes = calls[0]
    assert source == peer.peer.source
    assert attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in attributes
    assert span.status.status_code.name == "ERROR"
    if peer.peer.records_error_type:
        assert attributes[sc.ERROR_TYPE]


# --- the same spans through real OTLP/HTTP into the sink --------------------------------------------------------


def _export(sink: BackgroundSink, spans: Any) -> None:
    """The spans to the sink through the real OTLP/HTTP exporter, acknowledged."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    exporter = OTLPSpanExporter(endpoint=sink.traces_url)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


def test_sink_stores_peer_calls(
    peer: Instrumented,
    client: anthropic.Anthropic,
    standin: StandinServer,
    sink: BackgroundSink,
    database_url: str,
) -> None:
    standin.enqueue(_reply(), _reply(id="msg_interop_0002"))
    client.messages.create(model=MODEL, max_tokens=64, system=SYSTEM, messages=[{"role": "user", "content": PROMPT}])
    for _ in client.messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": PROMPT}], stream=True
    ):
        pass
    spans = peer.exporter.get_finished_spans()
    _export(sink, spans)

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT source, operation, provider, request_model, response_model, streaming, status,"
            " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, response_id,"
            " input_sha256 IS NOT NULL, output_sha256 IS NOT NULL"
            " FROM llm_calls ORDER BY start_time"
        ).fetchall()
        stored_spans = conn.execute("SELECT count(*) FROM spans").fetchone()
    assert stored_spans is not None
    assert stored_spans[0] == len(spans)
    calls = [row for row in rows if row[0] == peer.peer.source]
    assert len(calls) == 2, rows
    plain, streamed = calls
    assert plain[:5] == (peer.peer.source, sc.OP_CHAT, anthropic_contract.PROVIDER, MODEL, RESPONSE_MODEL)
    assert plain[6:12] == ("ok", INPUT_TOTAL, 5, 100, 20, "msg_interop_0001")
    assert plain[12:] == (True, True)
    assert streamed[0] == peer.peer.source
    assert streamed[5] is True
    assert streamed[7] == (INPUT_TOTAL if peer.peer.records_stream_usage else None)
    assert streamed[13] is True
    extra = [row for row in rows if row[0] != peer.peer.source]
    assert extra == []


# --- one call, one row: the peer's span and the SDK's own, both exported ----------------------------------------

_NATIVE_TRACING = hasattr(importlib.import_module("anthropic._base_client"), "start_api_call_span")


@pytest.mark.skipif(not _NATIVE_TRACING, reason="this anthropic SDK does not trace its own calls (1.14+ does)")
def test_sink_counts_each_call_once_when_the_sdk_traces_it_too(
    peer: Instrumented, standin: StandinServer, sink: BackgroundSink, database_url: str
) -> None:
    """An application on the newest SDK, whose own tracing is on by default, that also runs the peer: three calls,
    a streamed one, a failed one and a two-turn agent loop under one request span. Each is one row, with the
    tokens and cost of one call."""
    import anthropic

    from tokentrail.pricing import Usage as PricedUsage
    from tokentrail.pricing import default_pricebook

    traced = anthropic.Anthropic(
        api_key="test",
        base_url=standin.base_url,
        max_retries=0,
        open_telemetry={"tracer_provider": peer.provider},  # type: ignore[call-arg]
    )
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    with traced, peer.provider.get_tracer("app").start_as_current_span("POST /ask"):
        for index in range(3):
            standin.enqueue(_reply(id=f"msg_plain_{index}"))
            traced.messages.create(model=MODEL, max_tokens=64, messages=messages)
        standin.enqueue(_reply(id="msg_streamed"))
        for _ in traced.messages.create(model=MODEL, max_tokens=64, messages=messages, stream=True):
            pass
        standin.enqueue(ErrorReply(status=529, error_type="overloaded_error"))
        with pytest.raises(anthropic.APIStatusError):
            traced.messages.create(model=MODEL, max_tokens=64, messages=messages)
        standin.enqueue(
            _reply(id="msg_turn_1", content=[ToolUseBlock(name="get_weather", input={"city": "Paris"}, id="toolu_1")]),
            _reply(id="msg_turn_2"),
        )
        turn = traced.messages.create(model=MODEL, max_tokens=64, tools=[WEATHER_TOOL], messages=messages)  # type: ignore[list-item]
        follow_up = [
            *messages,
            {"role": "assistant", "content": [block.model_dump() for block in turn.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"}]},
        ]
        traced.messages.create(model=MODEL, max_tokens=64, tools=[WEATHER_TOOL], messages=follow_up)  # type: ignore[list-item]

    spans = peer.exporter.get_finished_spans()
    sdk_spans = [
        s
        for s in spans
        if s.instrumentation_scope and s.instrumentation_scope.name == anthropic_contract.SDK_NATIVE_SCOPE
    ]
    assert len(sdk_spans) == 7, [s.name for s in spans]  # the SDK really traced every call next to the peer
    _export(sink, spans)

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT sources, status, input_tokens, output_tokens, cost_usd, response_id FROM llm_calls"
            " ORDER BY start_time"
        ).fetchall()
        kept = conn.execute("SELECT count(*) FROM spans").fetchone()
    assert kept == (len(spans),)
    assert len(rows) == 7, rows
    assert all(row[0] == ["anthropic-sdk", peer.peer.source] for row in rows), rows
    assert [row[1] for row in rows].count("error") == 1
    ok = [row for row in rows if row[1] == "ok"]
    assert [(row[2], row[3]) for row in ok] == [(INPUT_TOTAL, 5)] * 6
    one = default_pricebook().cost(
        RESPONSE_MODEL,
        PricedUsage(input_tokens=10, output_tokens=5, cache_read_tokens=100, cache_write_5m_tokens=20),
        provider=anthropic_contract.PROVIDER,
    )
    assert one is not None
    assert float(sum(row[4] for row in ok)) == pytest.approx(6 * float(one.usd), rel=1e-6)
