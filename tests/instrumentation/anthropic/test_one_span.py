"""Exactly one span per API call on SDKs that trace their own calls (1.14+): tokentrail's takes the SDK's place."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import ClassVar

import anthropic
import pytest

from tests.fixtures.spans import MODEL, USER, attrs, llm_spans, only_span, sdk_spans
from tokentrail.contract import semconv
from tokentrail.dev.standin import ErrorReply, MessageReply, Usage

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


def _ids(span) -> str:
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-"


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
def test_our_trace_headers_replace_the_applications_and_keep_its_other_headers(traced_client, span_exporter, standin):
    from opentelemetry import baggage
    from opentelemetry import context as context_api

    standin.enqueue(MessageReply())
    token = context_api.attach(baggage.set_baggage("tenant", "acme"))
    try:
        traced_client.messages.create(
            model=MODEL,
            max_tokens=50,
            messages=USER,
            extra_headers={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01", "x-app": "kept"},
        )
    finally:
        context_api.detach(token)
    headers = standin.requests[-1].headers
    assert headers["traceparent"].startswith(_ids(only_span(span_exporter)))
    assert headers["x-app"] == "kept"
    assert headers["baggage"] == "tenant=acme"  # the application's propagator: trace context and baggage


@pytest.mark.usefixtures("instrumented")
def test_every_attempt_of_a_call_carries_its_span(traced_client, span_exporter, standin):
    standin.enqueue(ErrorReply.overloaded(), MessageReply())
    traced_client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    span = only_span(span_exporter)
    assert [request.headers["traceparent"][:53] for request in standin.requests] == [_ids(span)] * 2


@pytest.mark.usefixtures("instrumented")
def test_no_trace_headers_when_the_clients_propagation_is_off(standin, tracer_provider, span_exporter):
    options = {"tracer_provider": tracer_provider, "propagation": False}
    with anthropic.Anthropic(api_key="test", base_url=standin.base_url, open_telemetry=options) as client:  # type: ignore[call-arg]
        standin.enqueue(MessageReply())
        client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    assert "traceparent" not in standin.requests[-1].headers
    assert sdk_spans(span_exporter) == []
    assert len(llm_spans(span_exporter)) == 1


class _SigningClient(anthropic.Anthropic):
    """A client that signs every header of each request it built, as a strict gateway's client might."""

    signed_headers: ClassVar[list[list[str]]] = []

    def _prepare_request(self, request) -> None:  # type: ignore[no-untyped-def]
        self.signed_headers.append(sorted(request.headers))
        request.headers["x-signature"] = str(hash(tuple(sorted(request.headers.items()))))


@pytest.mark.usefixtures("instrumented")
def test_a_signing_client_gets_our_trace_headers_after_signing(standin, tracer_provider, span_exporter):
    options = {"tracer_provider": tracer_provider}
    with _SigningClient(api_key="test", base_url=standin.base_url, open_telemetry=options) as client:  # type: ignore[call-arg]
        standin.enqueue(MessageReply())
        client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    assert sdk_spans(span_exporter) == []
    assert _traceparent(standin).startswith(_ids(only_span(span_exporter)))
    # Added after the client signed the request (as the SDK does), so no signature covers them: an HTTP client
    # instrumentation that rewrites them later cannot invalidate the request.
    assert "x-stainless-lang" in _SigningClient.signed_headers[-1]
    assert "traceparent" not in _SigningClient.signed_headers[-1]


@pytest.mark.usefixtures("instrumented")
def test_bedrock_carries_our_trace_context(standin, tracer_provider, span_exporter):
    pytest.importorskip("botocore")
    client = anthropic.AnthropicBedrock(
        aws_access_key="test",
        aws_secret_key="test",
        aws_region="us-east-1",
        base_url=standin.base_url,
        open_telemetry={"tracer_provider": tracer_provider},  # type: ignore[call-arg]
    )
    with client:
        standin.enqueue(MessageReply())
        client.messages.create(model="anthropic.claude-haiku-4-5-20251001-v1:0", max_tokens=50, messages=USER)
    assert sdk_spans(span_exporter) == []
    assert _traceparent(standin).startswith(_ids(only_span(span_exporter)))
    assert standin.requests[-1].headers["authorization"].startswith("AWS4-HMAC-SHA256 ")


@pytest.mark.usefixtures("instrumented")
def test_one_span_for_streams_and_count_tokens(traced_client, span_exporter, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=30, output_tokens=12)))
    with traced_client.messages.stream(model=MODEL, max_tokens=50, messages=USER) as stream:
        stream.until_done()
    stream_span = only_span(span_exporter)
    assert _traceparent(standin).startswith(_ids(stream_span))
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
