"""The sink prices a peer's call as tokentrail's own instrumentation prices the same call: 1-hour cache writes,
compaction iterations, web searches and fast mode, wherever the peer's span carries them.

The reference is tokentrail's span for a real call (the real SDK against the stand-in); the peers' spans are the
SDK's own span of the same reply, and logfire's and OpenInference's span shapes built from it (their raw usage and
response body, as they record them, and no cost of their own)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.fixtures import otlp
from tests.fixtures.spans import attrs, only_span, sdk_spans
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.db.rows import LlmCallRow
from tokentrail.dev.standin import MessageReply, StandinServer, TextBlock, Usage
from tokentrail.pricing import PriceBook
from tokentrail.sink.normalise import Normaliser
from tokentrail.sink.spans import extract_spans

MESSAGES = [{"role": "user", "content": "Summarise the refund policy."}]
COMPACTION = {
    "type": "compaction",
    "input_tokens": 40_000,
    "output_tokens": 3000,
    "cache_read_input_tokens": 0,
    "cache_creation_input_tokens": 0,
}
ANSWER = {"type": "message", "input_tokens": 1000, "output_tokens": 200}
WRITES = {"cache_read_input_tokens": 500, "cache_creation_input_tokens": 3000, "ephemeral_1h_input_tokens": 2000}


@pytest.fixture(scope="module")
def normaliser() -> Normaliser:
    return Normaliser(PriceBook())


def _reference(client: anthropic.Anthropic, standin: StandinServer, exporter, reply: MessageReply):
    """tokentrail's span of the call (the caller has it instrumented) and the message the SDK returned (its JSON)."""
    standin.enqueue(reply)
    message = client.beta.messages.create(model=reply.model or "", max_tokens=512, messages=MESSAGES)
    return attrs(only_span(exporter)), message.model_dump(mode="json")


def _row(normaliser: Normaliser, name: str, scope: str, attributes: dict[str, Any]) -> LlmCallRow:
    batch = normaliser.batch(extract_spans(otlp.request([otlp.span(name, attributes=attributes)], scope=scope)).spans)
    (call,) = batch.llm_calls
    return call


def _top_level(usage: dict[str, Any]) -> tuple[int, int, int, int]:
    """(input total, output, cache read, cache write) as a peer reads them: the top-level usage only."""
    read, write = usage["cache_read_input_tokens"] or 0, usage["cache_creation_input_tokens"] or 0
    return usage["input_tokens"] + read + write, usage["output_tokens"], read, write


def _logfire(message: dict[str, Any]) -> dict[str, Any]:
    total, output, read, write = _top_level(message["usage"])
    return {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_SYSTEM: "anthropic",
        semconv.GEN_AI_REQUEST_MODEL: message["model"],
        semconv.GEN_AI_RESPONSE_MODEL: message["model"],
        semconv.GEN_AI_RESPONSE_ID: message["id"],
        semconv.GEN_AI_USAGE_INPUT_TOKENS: total,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: output,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: read,
        "gen_ai.usage.cache_creation.input_tokens": write,
        "gen_ai.usage.raw": json.dumps(message["usage"]),
        "logfire.span_type": "span",
    }


def _openinference(message: dict[str, Any]) -> dict[str, Any]:
    total, output, read, write = _top_level(message["usage"])
    return {
        "openinference.span.kind": "LLM",
        "llm.provider": "anthropic",
        "llm.system": "anthropic",
        "llm.model_name": message["model"],
        "llm.invocation_parameters": json.dumps({"model": message["model"], "max_tokens": 512}),
        "llm.token_count.prompt": total,
        "llm.token_count.completion": output,
        "llm.token_count.prompt_details.cache_read": read,
        "llm.token_count.prompt_details.cache_write": write,
        "output.value": json.dumps(message),
        "output.mime_type": "application/json",
    }


PEERS = [
    pytest.param("Message with 'claude-opus-5-5'", "logfire.anthropic", _logfire, id="logfire"),
    pytest.param("Messages", "openinference.instrumentation.anthropic", _openinference, id="openinference"),
]


@pytest.mark.usefixtures("instrumented")
@pytest.mark.parametrize(("name", "scope", "shape"), PEERS)
def test_a_peer_with_the_raw_usage_is_priced_as_tokentrail_prices_it(
    anthropic_client, standin, span_exporter, normaliser, name, scope, shape
) -> None:
    usage = Usage(
        input_tokens=1000,
        output_tokens=200,
        **WRITES,
        service_tier="priority",
        speed="fast",
        server_tool_use={"web_search_requests": 3, "web_fetch_requests": 1},
        iterations=[COMPACTION, ANSWER],
    )
    reply = MessageReply(model="claude-opus-5-5", content=[TextBlock("Refunds take 5 days.")], usage=usage)
    ours, message = _reference(anthropic_client, standin, span_exporter, reply)
    assert ours[anthropic_contract.WEB_SEARCH_REQUESTS] == 3  # the reference has every field
    assert ours[anthropic_contract.SPEED] == "fast"

    call = _row(normaliser, name, scope, shape(message))
    assert call.cost_source is not None
    assert call.cost_source.startswith("sink:")
    assert call.cost_usd == pytest.approx(Decimal(str(ours[semconv.COST_USD])), abs=Decimal("1e-9"))
    assert call.input_tokens == ours[semconv.GEN_AI_USAGE_INPUT_TOKENS]  # compaction counted once
    assert call.output_tokens == ours[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]
    assert call.cache_write_tokens == ours[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS]


@pytest.mark.parametrize(("name", "scope", "shape"), PEERS)
def test_without_iterations_a_peers_own_counts_stand(normaliser, name, scope, shape) -> None:
    usage = {"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5", "content": []}
    call = _row(normaliser, name, scope, shape({**message, "usage": usage}))
    assert (call.input_tokens, call.output_tokens) == (100, 20)
    assert call.cost_usd == pytest.approx(Decimal("0.0002"))  # $1 / $5 per MTok


_base_client = importlib.import_module("anthropic._base_client")


@pytest.fixture
def sdk_traced(standin: StandinServer, tracer_provider: TracerProvider) -> Iterator[anthropic.Anthropic]:
    """A client with the SDK's own tracing on (tokentrail not instrumented: the SDK's span is the call's)."""
    client = anthropic.Anthropic(
        api_key="test",
        base_url=standin.base_url,
        open_telemetry={"tracer_provider": tracer_provider},  # type: ignore[call-arg]
    )
    with client:
        yield client


@pytest.mark.sdk_native_tracing
@pytest.mark.skipif(not hasattr(_base_client, "start_api_call_span"), reason="no native call spans on this SDK")
def test_the_sdks_span_counts_compaction_and_one_hour_writes_as_tokentrail_does(
    tracer_provider,
    meter_provider,
    tokentrail_settings,
    sdk_traced,
    standin,
    span_exporter: InMemorySpanExporter,
    normaliser,
) -> None:
    from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

    usage = Usage(input_tokens=1000, output_tokens=200, **WRITES, iterations=[COMPACTION, ANSWER])
    reply = MessageReply(model="claude-sonnet-4-6", usage=usage)
    standin.enqueue(reply, reply)
    sdk_traced.beta.messages.create(model="claude-sonnet-4-6", max_tokens=512, messages=MESSAGES)
    (native,) = sdk_spans(span_exporter)
    span_exporter.clear()
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, settings=tokentrail_settings
    )
    try:
        sdk_traced.beta.messages.create(model="claude-sonnet-4-6", max_tokens=512, messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    ours = attrs(only_span(span_exporter))

    call = _row(normaliser, native.name, anthropic_contract.SDK_NATIVE_SCOPE, attrs(native))
    assert call.source == "anthropic-sdk"
    assert call.input_tokens == ours[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 1000 + 500 + 3000 + 40_000
    assert call.output_tokens == ours[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 200 + 3000
    assert call.cost_usd == pytest.approx(Decimal(str(ours[semconv.COST_USD])), abs=Decimal("1e-9"))
