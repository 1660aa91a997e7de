"""Exactly one span per API call on SDKs that trace their own calls (1.14+): tokentrail's takes the SDK's place."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import anthropic
import pytest

from tests.instrumentation.anthropic._support import MODEL, USER, attrs, llm_spans, only_span, sdk_spans
from tokentrail import semconv
from tokentrail.standin import MessageReply, Usage

_base_client = importlib.import_module("anthropic._base_client")
pytestmark = [
    pytest.mark.sdk_native_tracing,
    pytest.mark.skipif(
        not hasattr(_base_client, "start_api_call_span"),
        reason="this anthropic SDK emits no call spans of its own (native tracing arrived in 1.14)",
    ),
]


@pytest.fixture
def traced_client(standin, tracer_provider) -> Iterator[anthropic.Anthropic]:
    """A client with the SDK's own tracing on, exporting to the same provider as tokentrail."""
    client = anthropic.Anthropic(
        api_key="test",
        base_url=standin.base_url,
        max_retries=2,
        open_telemetry={"tracer_provider": tracer_provider},  # type: ignore[call-arg]
    )
    with client:
        yield client


@pytest.fixture
async def async_traced_client(standin, tracer_provider):
    client = anthropic.AsyncAnthropic(
        api_key="test",
        base_url=standin.base_url,
        max_retries=2,
        open_telemetry={"tracer_provider": tracer_provider},  # type: ignore[call-arg]
    )
    async with client:
        yield client


def _traceparent(standin) -> str:
    return standin.requests[-1].headers["traceparent"]


@pytest.mark.usefixtures("instrumented")
def test_one_span_for_create_with_native_tracing_on(traced_client, span_exporter, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=30, output_tokens=12)))
    traced_client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    assert sdk_spans(span_exporter) == []
    span = only_span(span_exporter)
    assert len(span_exporter.get_finished_spans()) == 1
    a = attrs(span)
    assert (a[semconv.GEN_AI_USAGE_INPUT_TOKENS], a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (30, 12)
    # the SDK still propagates the trace context: ours
    context = span.get_span_context()
    assert _traceparent(standin).startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")


@pytest.mark.usefixtures("instrumented")
def test_one_span_for_streams_and_count_tokens(traced_client, span_exporter, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=30, output_tokens=12)))
    with traced_client.messages.stream(model=MODEL, max_tokens=50, messages=USER) as stream:
        stream.until_done()
    stream_span = only_span(span_exporter)
    assert attrs(stream_span)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 12
    traced_client.messages.count_tokens(model=MODEL, messages=USER)
    assert sdk_spans(span_exporter) == []
    assert len(llm_spans(span_exporter)) == 2


@pytest.mark.usefixtures("instrumented")
async def test_one_span_async(async_traced_client, span_exporter, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=30, output_tokens=12)))
    await async_traced_client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    stream = await async_traced_client.messages.create(model=MODEL, max_tokens=50, messages=USER, stream=True)
    async for _ in stream:
        pass
    assert sdk_spans(span_exporter) == []
    assert len(llm_spans(span_exporter)) == 2


def test_the_sdk_span_comes_back_when_uninstrumented(
    traced_client, span_exporter, tracer_provider, meter_provider, tokentrail_settings
):
    from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, settings=tokentrail_settings
    )
    traced_client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    instrumentor.uninstrument()
    assert not hasattr(_base_client.start_api_call_span, "__wrapped__")
    span_exporter.clear()
    traced_client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    assert llm_spans(span_exporter) == []
    (sdk_span,) = sdk_spans(span_exporter)
    assert sdk_span.name == "anthropic.messages.create"


@pytest.mark.usefixtures("instrumented")
def test_sdk_tool_runner_spans_are_kept(traced_client, span_exporter):
    beta_tool = getattr(anthropic, "beta_tool", None)
    if beta_tool is None or not hasattr(traced_client.beta.messages, "tool_runner"):
        pytest.skip("this SDK has no tool runner")

    @beta_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    runner = traced_client.beta.messages.tool_runner(
        model=MODEL,
        max_tokens=200,
        tools=[get_weather],
        messages=[{"role": "user", "content": "use a tool: get_weather for Paris"}],
    )
    assert [message.stop_reason for message in runner] == ["tool_use", "end_turn"]
    chats = llm_spans(span_exporter)
    sdk_names = sorted(span.name for span in sdk_spans(span_exporter))
    assert len(chats) == 2  # one per API call, and no SDK call span beside them
    assert "anthropic.messages.create" not in sdk_names
    assert any("tool_runner" in name for name in sdk_names)  # the SDK's own workflow spans stay
    (runner_span,) = [span for span in sdk_spans(span_exporter) if "tool_runner" in span.name]
    assert {chat.parent.span_id for chat in chats} == {runner_span.context.span_id}
