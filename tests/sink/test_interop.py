"""`tokentrail.sink.peers.to_contract`: the Anthropic SDK's own spans (real, from the installed SDK), tokentrail's
own, the rules that need no peer installed, and totality on any input.

The peers' real spans are tested in test_interop_peers.py, each in its own `nox -s interop` environment.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv as sc
from tokentrail.dev.standin import ErrorReply, MessageReply, StandinServer, TextBlock, Usage
from tokentrail.sink.peers import SOURCES, to_contract

if TYPE_CHECKING:
    import anthropic

    from tokentrail.sink.background import BackgroundSink

MODEL = "claude-sonnet-4-6"
RESPONSE_MODEL = "claude-sonnet-4-6-20260101"
PROMPT = "Say hello to the interop test."
ANSWER = "Hello, interop test."
USAGE = Usage(input_tokens=10, output_tokens=5, cache_read_input_tokens=100, cache_creation_input_tokens=20)


def _native_tracing() -> bool:
    import anthropic

    return "open_telemetry" in inspect.signature(anthropic.Anthropic.__init__).parameters


native = pytest.mark.skipif(
    not _native_tracing(), reason="this anthropic SDK emits no spans of its own (native tracing arrived in 1.14)"
)


@pytest.fixture
def native_client(standin: StandinServer, tracer_provider: TracerProvider) -> Iterator[anthropic.Anthropic]:
    import anthropic

    options: Any = {"tracer_provider": tracer_provider, "traces": {"content_mode": "content"}}
    with anthropic.Anthropic(
        api_key="test", base_url=standin.base_url, max_retries=0, open_telemetry=options
    ) as client:
        yield client


def _calls(exporter: InMemorySpanExporter) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for span in exporter.get_finished_spans():
        scope = span.instrumentation_scope.name if span.instrumentation_scope else None
        result = to_contract(span.name, scope, dict(span.attributes or {}))
        if result is not None:
            found.append(result)
    return found


def _reply(**overrides: Any) -> MessageReply:
    values: dict[str, Any] = {"content": [TextBlock(ANSWER)], "model": RESPONSE_MODEL, "usage": USAGE, "id": "msg_n1"}
    values.update(overrides)
    return MessageReply(**values)


def _text(attributes: dict[str, Any], key: str) -> str:
    return "".join(part.get("content", "") for message in json.loads(attributes[key]) for part in message["parts"])


# --- the SDK's native spans -------------------------------------------------------------------------------------


@native
@pytest.mark.sdk_native_tracing
def test_native_call_has_contract_tokens_and_content(
    native_client: anthropic.Anthropic, standin: StandinServer, span_exporter: InMemorySpanExporter
) -> None:
    standin.enqueue(_reply())
    native_client.messages.create(
        model=MODEL, max_tokens=64, system="Be brief.", messages=[{"role": "user", "content": PROMPT}]
    )
    [(source, attributes)] = _calls(span_exporter)
    assert source == "anthropic-sdk"
    assert attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_CHAT
    assert attributes[sc.GEN_AI_PROVIDER_NAME] == anthropic_contract.PROVIDER
    assert attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert attributes[sc.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL
    assert attributes[sc.GEN_AI_RESPONSE_ID] == "msg_n1"
    # The SDK already counts input + cache read + cache write: kept, not added twice.
    assert attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 130
    assert attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 100
    assert attributes[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 20
    assert attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    # The SDK writes no finish reasons, only the stop reason: interop maps it.
    assert attributes[anthropic_contract.STOP_REASON] == "end_turn"
    assert attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == [sc.FINISH_STOP]
    assert _text(attributes, sc.GEN_AI_INPUT_MESSAGES) == PROMPT
    assert _text(attributes, sc.GEN_AI_OUTPUT_MESSAGES) == ANSWER
    assert json.loads(attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS])[0]["content"] == "Be brief."
    assert attributes["http.response.status_code"] == 200  # untranslated attributes pass through


@native
@pytest.mark.sdk_native_tracing
def test_native_stream(
    native_client: anthropic.Anthropic, standin: StandinServer, span_exporter: InMemorySpanExporter
) -> None:
    standin.enqueue(_reply())
    with native_client.messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
    ) as stream:
        assert "".join(stream.text_stream) == ANSWER
    [(source, attributes)] = _calls(span_exporter)
    assert source == "anthropic-sdk"
    assert attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 130
    assert attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert _text(attributes, sc.GEN_AI_OUTPUT_MESSAGES) == ANSWER


@native
@pytest.mark.sdk_native_tracing
def test_native_count_tokens_batches_and_other_methods(
    native_client: anthropic.Anthropic, standin: StandinServer, span_exporter: InMemorySpanExporter
) -> None:
    native_client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": PROMPT}])
    batch = native_client.messages.batches.create(
        requests=[
            {
                "custom_id": "one",
                "params": {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]},
            }
        ]
    )
    native_client.messages.batches.retrieve(batch.id)
    native_client.models.list()  # traced by the SDK, but not an LLM call
    calls = _calls(span_exporter)
    assert [attributes[sc.GEN_AI_OPERATION_NAME] for _, attributes in calls] == [
        sc.OP_COUNT_TOKENS,
        sc.OP_BATCH_CREATE,
        sc.OP_BATCH_RETRIEVE,
    ]
    assert {source for source, _ in calls} == {"anthropic-sdk"}
    count = calls[0][1]
    assert count[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in count  # counted tokens are not spent tokens
    assert count["anthropic.message.count_tokens.input_tokens"] > 0
    assert calls[1][1][anthropic_contract.BATCH_REQUEST_COUNT] == 1
    assert calls[1][1][anthropic_contract.BATCH_ID] == batch.id
    assert len(span_exporter.get_finished_spans()) == 4


@native
@pytest.mark.sdk_native_tracing
def test_native_error(
    native_client: anthropic.Anthropic, standin: StandinServer, span_exporter: InMemorySpanExporter
) -> None:
    import anthropic

    standin.enqueue(ErrorReply(status=529, error_type="overloaded_error"))
    with pytest.raises(anthropic.APIStatusError):
        native_client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": PROMPT}])
    [(source, attributes)] = _calls(span_exporter)
    assert source == "anthropic-sdk"
    assert attributes[sc.ERROR_TYPE] == "overloaded_error"
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in attributes


@native
@pytest.mark.sdk_native_tracing
@pytest.mark.postgres
def test_native_spans_through_the_sink(
    native_client: anthropic.Anthropic,
    standin: StandinServer,
    span_exporter: InMemorySpanExporter,
    sink: BackgroundSink,
    database_url: str,
) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    standin.enqueue(_reply(), ErrorReply(status=429, error_type="rate_limit_error"))
    native_client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": PROMPT}])
    with pytest.raises(Exception, match="rate_limit"):
        native_client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": PROMPT}])
    native_client.models.list()
    exporter = OTLPSpanExporter(endpoint=sink.traces_url)
    try:
        assert exporter.export(span_exporter.get_finished_spans()) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT source, operation, request_model, response_model, status, error_type,"
            " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, finish_reasons"
            " FROM llm_calls ORDER BY start_time"
        ).fetchall()
        spans = conn.execute("SELECT count(*), count(*) FILTER (WHERE is_llm) FROM spans").fetchone()
    assert spans == (3, 2)
    assert rows == [
        ("anthropic-sdk", "chat", MODEL, RESPONSE_MODEL, "ok", None, 130, 5, 100, 20, ["stop"]),
        ("anthropic-sdk", "chat", MODEL, None, "error", "rate_limit_error", None, None, None, None, None),
    ]


# --- rules that need no peer --------------------------------------------------------------------------------------


def test_tokentrail_spans_are_returned_as_they_are() -> None:
    attributes = {sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_USAGE_INPUT_TOKENS: 7, "custom": [1, 2]}
    assert to_contract("chat claude", anthropic_contract.INSTRUMENTATION_SCOPE, attributes) == (
        "tokentrail",
        attributes,
    )
    tool = {sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL}
    assert to_contract("execute_tool lookup", anthropic_contract.INSTRUMENTATION_SCOPE, tool) is None


def test_spans_that_are_not_llm_calls() -> None:
    assert to_contract("GET /", "opentelemetry.instrumentation.fastapi", {"http.route": "/"}) is None
    assert (
        to_contract(
            "anthropic.sessions.create", anthropic_contract.SDK_NATIVE_SCOPE, {"gen_ai.provider.name": "anthropic"}
        )
        is None
    )
    agent = {"openinference.span.kind": "AGENT", "llm.token_count.prompt": 3}
    assert to_contract("agent", "openinference.instrumentation.anthropic", agent) is None
    workflow = {sc.GEN_AI_OPERATION_NAME: "invoke_agent", sc.GEN_AI_PROVIDER_NAME: "anthropic"}
    assert to_contract("invoke_agent x", "some.framework", workflow) is None


def test_input_tokens_without_cache_are_completed() -> None:
    # OpenLIT counts only the uncached input, always.
    openlit = {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1,
        "gen_ai.usage.cache_creation.input_tokens": 2,
        sc.GEN_AI_REQUEST_TEMPERATURE: 1.0,  # OpenLIT's placeholder for "not given"
        sc.COST_USD: 0,  # OpenLIT's "no price known"
    }
    source, attributes = to_contract("chat m", "openlit.instrumentation.anthropic", openlit) or ("", {})
    assert source == "openlit"
    assert attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 13
    assert attributes[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 2
    assert sc.GEN_AI_REQUEST_TEMPERATURE not in attributes
    assert sc.COST_USD not in attributes
    # Another source's count below its cache tokens can only leave them out (an older generation of the peer).
    old = {
        "llm.token_count.prompt": 10,
        "llm.token_count.prompt_details.cache_read": 100,
        "openinference.span.kind": "LLM",
    }
    _, translated = to_contract("messages.create", "openinference.instrumentation.anthropic", old) or ("", {})
    assert translated[sc.GEN_AI_USAGE_INPUT_TOKENS] == 110
    # ... and a count that can be the total is taken as the total.
    current = dict(old, **{"llm.token_count.prompt": 130})
    _, translated = to_contract("messages.create", "openinference.instrumentation.anthropic", current) or ("", {})
    assert translated[sc.GEN_AI_USAGE_INPUT_TOKENS] == 130


def test_peer_without_scope_is_recognised_by_shape() -> None:
    legacy = {
        "gen_ai.system": "Anthropic",
        "llm.request.type": "completion",
        "gen_ai.request.model": MODEL,
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": json.dumps([{"type": "text", "text": "hi"}]),
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "yo",
        "gen_ai.completion.0.finish_reason": "max_tokens",
        "gen_ai.completion.1.role": "assistant",
        "gen_ai.completion.1.tool_calls.0.id": "toolu_1",
        "gen_ai.completion.1.tool_calls.0.name": "lookup",
        "gen_ai.completion.1.tool_calls.0.arguments": '{"q": 1}',
        "gen_ai.usage.prompt_tokens": 12,
        "gen_ai.usage.completion_tokens": 3,
    }
    source, attributes = to_contract("anthropic.chat", None, legacy) or ("", {})
    assert source == "openllmetry"
    assert attributes[sc.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert attributes[sc.GEN_AI_OPERATION_NAME] == sc.OP_CHAT
    assert attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == [sc.FINISH_LENGTH]
    assert json.loads(attributes[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    ]
    output = json.loads(attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert output[1]["parts"] == [{"type": "tool_call", "id": "toolu_1", "name": "lookup", "arguments": {"q": 1}}]


# --- totality -------------------------------------------------------------------------------------------------------

_SCOPES = st.sampled_from(
    [
        None,
        "",
        anthropic_contract.INSTRUMENTATION_SCOPE,
        anthropic_contract.SDK_NATIVE_SCOPE,
        "opentelemetry.instrumentation.anthropic",
        "opentelemetry.instrumentation.genai.anthropic",
        "openinference.instrumentation.anthropic",
        "openlit.instrumentation.anthropic",
        "logfire.anthropic",
        "unknown",
    ]
)
_KEYS = st.sampled_from(
    [
        sc.GEN_AI_OPERATION_NAME,
        sc.GEN_AI_PROVIDER_NAME,
        sc.GEN_AI_SYSTEM,
        sc.GEN_AI_REQUEST_MODEL,
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        sc.GEN_AI_RESPONSE_FINISH_REASONS,
        sc.GEN_AI_INPUT_MESSAGES,
        sc.GEN_AI_REQUEST_STOP_SEQUENCES,
        sc.GEN_AI_REQUEST_STREAM,
        sc.COST_USD,
        "gen_ai.usage.raw",
        "gen_ai.prompt.0.content",
        "gen_ai.prompt.x.role",
        "gen_ai.completion.0.tool_calls.0.arguments",
        "llm.request.type",
        "llm.request.functions.0.input_schema",
        "openinference.span.kind",
        "llm.invocation_parameters",
        "llm.input_messages.0.message.contents.0.message_content.type",
        "llm.tools.0.tool.json_schema",
        "input.value",
        "output.value",
        "logfire.span_type",
        "logfire.level_num",
        "operation.cost",
        "anthropic.message.batch.request_count",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["chat", "LLM", "log", "[1, 2]", '{"a": [', '{"usage": {"input_tokens": "x"}}', "[{}]", "1e999"]),
    st.binary(max_size=8),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.one_of(st.text(max_size=30), st.sampled_from(["anthropic.messages.create", "anthropic.chat"])),
    scope=_SCOPES,
    attributes=st.dictionaries(_KEYS, _VALUES, max_size=8),
)
def test_never_raises(name: str, scope: str | None, attributes: dict[str, Any]) -> None:
    result = to_contract(name, scope, attributes)
    if result is not None:
        source, translated = result
        assert source in SOURCES
        assert isinstance(translated, dict)


def test_odd_arguments_give_none() -> None:
    assert to_contract(None, None, None) is None  # type: ignore[arg-type]
    assert to_contract("x", 3, {}) is None  # type: ignore[arg-type]
    odd = {sc.GEN_AI_USAGE_INPUT_TOKENS: object(), sc.GEN_AI_REQUEST_MODEL: 5, sc.GEN_AI_INPUT_MESSAGES: 1.5}
    assert to_contract("anthropic.messages.create", anthropic_contract.SDK_NATIVE_SCOPE, odd) == (
        "anthropic-sdk",
        {sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_PROVIDER_NAME: anthropic_contract.PROVIDER},
    )
