"""The instrumentor end to end: the real SDK against the stand-in, one span per call with the contract's data."""

from __future__ import annotations

import json

import anthropic
import pytest
import wrapt
from opentelemetry.trace import SpanKind, StatusCode

from tests.fixtures.sdk import requires_thinking
from tests.fixtures.spans import MODEL, USER, attrs, llm_spans, only_span, points
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.dev.standin import ErrorReply, MessageReply, TextBlock, ThinkingBlock, ToolUseBlock, Usage
from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

pytestmark = pytest.mark.usefixtures("instrumented")


def test_sync_create_records_one_client_span(anthropic_client, span_exporter, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=1000, output_tokens=200)))
    message = anthropic_client.messages.create(
        model=MODEL,
        max_tokens=300,
        extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 40},  # keyword arguments only on 0.x SDKs
        stop_sequences=["END"],
        messages=USER,
        system="Be brief.",
    )
    span = only_span(span_exporter)
    a = attrs(span)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert a[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert a[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert a[semconv.GEN_AI_REQUEST_MODEL] == MODEL
    assert a[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 300
    assert a[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert a[semconv.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[semconv.GEN_AI_REQUEST_TOP_K] == 40.0
    assert a[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert semconv.GEN_AI_REQUEST_STREAM not in a
    assert a[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert a[semconv.SERVER_PORT] == anthropic_client.base_url.port
    assert a[anthropic_contract.CLIENT_PLATFORM] == "anthropic"
    assert a[semconv.GEN_AI_RESPONSE_ID] == message.id
    assert a[semconv.GEN_AI_RESPONSE_MODEL] == message.model
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 1000
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 200
    assert a[anthropic_contract.REQUEST_ID] == message._request_id
    # published haiku-4-5 prices: $1 / MTok input, $5 / MTok output
    assert a[semconv.COST_USD] == pytest.approx(1000 * 1e-6 + 200 * 5e-6)
    assert a[semconv.COST_SOURCE].startswith("genai-prices")
    assert json.loads(a[semconv.GEN_AI_INPUT_MESSAGES])[0]["role"] == "user"
    assert "Be brief." in a[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]
    output = json.loads(a[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert output[0]["parts"][0]["content"] == message.content[0].text


async def test_async_create(async_anthropic_client, span_exporter, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=10, output_tokens=5)))
    message = await async_anthropic_client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    a = attrs(only_span(span_exporter))
    assert a[semconv.GEN_AI_RESPONSE_ID] == message.id
    assert (a[semconv.GEN_AI_USAGE_INPUT_TOKENS], a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (10, 5)


def test_placeholders_are_not_recorded(anthropic_client, span_exporter):
    not_given = anthropic.NOT_GIVEN
    anthropic_client.messages.create(
        model=MODEL, max_tokens=20, messages=USER, system=not_given, tools=not_given, stop_sequences=not_given
    )
    a = attrs(only_span(span_exporter))
    for name in (
        semconv.GEN_AI_REQUEST_STOP_SEQUENCES,
        semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
        semconv.GEN_AI_TOOL_DEFINITIONS,
    ):
        assert name not in a


def test_tool_use(anthropic_client, span_exporter, standin):
    standin.enqueue(MessageReply(content=[ToolUseBlock(name="get_weather", input={"city": "Paris"}, id="toolu_1")]))
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}]
    anthropic_client.messages.create(model=MODEL, max_tokens=50, messages=USER, tools=tools)
    a = attrs(only_span(span_exporter))
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_call",)
    assert a[anthropic_contract.STOP_REASON] == "tool_use"
    assert "get_weather" in a[semconv.GEN_AI_TOOL_DEFINITIONS]
    output = json.loads(a[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert output[0]["parts"][0]["type"] == "tool_call"
    assert output[0]["parts"][0]["arguments"] == {"city": "Paris"}


@requires_thinking
def test_thinking_budget_and_content(anthropic_client, span_exporter, standin):
    standin.enqueue(MessageReply(content=[ThinkingBlock("Let me think."), TextBlock("42")]))
    anthropic_client.messages.create(
        model=MODEL, max_tokens=2000, messages=USER, thinking={"type": "enabled", "budget_tokens": 1024}
    )
    a = attrs(only_span(span_exporter))
    assert a[anthropic_contract.THINKING_BUDGET] == 1024
    parts = json.loads(a[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert [p["type"] for p in parts] == ["reasoning", "text"]


def test_prompt_caching_tokens_and_cost(anthropic_client, span_exporter, standin):
    standin.enqueue(
        MessageReply(
            usage=Usage(
                input_tokens=100,
                output_tokens=50,
                cache_read_input_tokens=2000,
                cache_creation_input_tokens=3000,
                ephemeral_5m_input_tokens=1000,
                ephemeral_1h_input_tokens=2000,
            )
        )
    )
    anthropic_client.messages.create(model=MODEL, max_tokens=60, messages=USER)
    a = attrs(only_span(span_exporter))
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 100 + 2000 + 3000
    assert a[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2000
    assert a[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 3000
    assert a[anthropic_contract.CACHE_WRITE_5M] == 1000
    assert a[anthropic_contract.CACHE_WRITE_1H] == 2000
    expected = (100 * 1.0 + 50 * 5.0 + 2000 * 0.10 + 1000 * 1.25 + 2000 * 2.0) / 1e6
    assert a[semconv.COST_USD] == pytest.approx(expected)


def test_count_tokens(anthropic_client, span_exporter, metric_reader):
    result = anthropic_client.messages.count_tokens(model=MODEL, messages=USER)
    span = only_span(span_exporter)
    a = attrs(span)
    assert span.name == f"count_tokens {MODEL}"
    assert a[semconv.GEN_AI_OPERATION_NAME] == semconv.OP_COUNT_TOKENS
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == result.input_tokens
    assert semconv.COST_USD not in a
    assert points(metric_reader, semconv.METRIC_TOKEN_USAGE) == []  # counting consumes nothing
    assert len(points(metric_reader, semconv.METRIC_OPERATION_DURATION)) == 1


def test_beta_create_and_count_tokens(anthropic_client, span_exporter):
    anthropic_client.beta.messages.create(
        model=MODEL, max_tokens=20, messages=USER, betas=["token-counting-2024-11-01"]
    )
    anthropic_client.beta.messages.count_tokens(model=MODEL, messages=USER)
    names = sorted(span.name for span in llm_spans(span_exporter))
    assert names == [f"chat {MODEL}", f"count_tokens {MODEL}"]


def test_parse(anthropic_client, span_exporter, standin):
    if not hasattr(anthropic_client.messages, "parse"):
        pytest.skip("messages.parse arrived after this SDK generation")
    standin.enqueue(MessageReply(usage=Usage(input_tokens=7, output_tokens=3)))
    parsed = anthropic_client.messages.parse(model=MODEL, max_tokens=20, messages=USER)
    a = attrs(only_span(span_exporter))
    assert a[semconv.GEN_AI_RESPONSE_ID] == parsed.id
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 3


def test_overloaded_error_reraises_the_same_exception(anthropic_client, span_exporter, standin, metric_reader):
    standin.enqueue(*(ErrorReply.overloaded(message="Overloaded, try later") for _ in range(3)))
    with pytest.raises(anthropic.APIStatusError) as caught:
        anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)[semconv.ERROR_TYPE] == "overloaded_error"
    assert span.status.description == "Overloaded, try later (HTTP 529)"
    assert caught.value.status_code == 529
    (duration,) = points(metric_reader, semconv.METRIC_OPERATION_DURATION)
    assert duration.attributes[semconv.ERROR_TYPE] == "overloaded_error"


def test_the_exception_object_is_the_sdks(anthropic_client, standin):
    standin.enqueue(ErrorReply.invalid_request())
    seen: list[BaseException] = []

    def capture(*args, **kwargs):
        try:
            return anthropic_client.messages.create(*args, **kwargs)
        except anthropic.BadRequestError as exc:
            seen.append(exc)
            raise

    with pytest.raises(anthropic.BadRequestError) as caught:
        capture(model=MODEL, max_tokens=20, messages=USER)
    assert caught.value is seen[0]
    assert caught.value.__traceback__ is not None


def test_rate_limit_then_success_is_one_span(anthropic_client, span_exporter, standin):
    standin.enqueue(ErrorReply.rate_limit(), MessageReply(usage=Usage(input_tokens=3, output_tokens=4)))
    anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.ERROR_TYPE not in attrs(span)
    assert attrs(span)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 4
    assert len(standin.requests) == 2


def test_metrics_values_and_buckets(anthropic_client, metric_reader, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=100, output_tokens=20, cache_read_input_tokens=50)))
    anthropic_client.messages.create(model=MODEL, max_tokens=30, messages=USER)
    usage = {p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p for p in points(metric_reader, semconv.METRIC_TOKEN_USAGE)}
    assert usage["input"].sum == 150
    assert usage["output"].sum == 20
    assert tuple(usage["input"].explicit_bounds) == tuple(float(b) for b in semconv.TOKEN_USAGE_BUCKETS)
    assert usage["input"].attributes[semconv.GEN_AI_REQUEST_MODEL] == MODEL
    assert usage["input"].attributes[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert usage["input"].attributes[semconv.SERVER_ADDRESS] == "127.0.0.1"
    (duration,) = points(metric_reader, semconv.METRIC_OPERATION_DURATION)
    assert duration.count == 1
    assert tuple(duration.explicit_bounds) == semconv.DURATION_BUCKETS
    assert semconv.ERROR_TYPE not in duration.attributes
    (cost,) = points(metric_reader, semconv.METRIC_COST)
    assert cost.value == pytest.approx((100 * 1.0 + 20 * 5.0 + 50 * 0.10) / 1e6)
    assert points(metric_reader, semconv.METRIC_TIME_TO_FIRST_CHUNK) == []  # not a stream


def test_uninstrument_restores_every_original(instrumented, anthropic_client, span_exporter):
    from anthropic.resources.messages import messages

    assert isinstance(messages.Messages.__dict__["create"], wrapt.FunctionWrapper)
    instrumented.uninstrument()
    try:
        for cls in (messages.Messages, messages.AsyncMessages):
            for name in ("create", "stream", "count_tokens"):
                assert not isinstance(cls.__dict__[name], wrapt.ObjectProxy), (cls, name)
        anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
        assert llm_spans(span_exporter) == []
    finally:
        instrumented.instrument(tracer_provider=None)  # the fixture uninstruments again afterwards


def test_dependencies():
    assert AnthropicInstrumentor().instrumentation_dependencies() == ("anthropic >= 0.41",)


def test_with_raw_response(anthropic_client, span_exporter, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=6, output_tokens=2)))
    raw = anthropic_client.messages.with_raw_response.create(model=MODEL, max_tokens=20, messages=USER)
    message = raw.parse()
    a = attrs(only_span(span_exporter))
    assert a[semconv.GEN_AI_RESPONSE_ID] == message.id
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2


def test_with_streaming_response_leaves_the_body_to_the_application(anthropic_client, span_exporter):
    with anthropic_client.messages.with_streaming_response.create(model=MODEL, max_tokens=20, messages=USER) as raw:
        message = raw.parse()
    assert message.content
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert attrs(span)[semconv.GEN_AI_REQUEST_MODEL] == MODEL


def test_application_context_attributes(anthropic_client, span_exporter):
    import tokentrail

    with tokentrail.attributes(user_id="user-7", session_id="sess-1", tags=["beta"], tenant_id="acme"):
        anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    a = attrs(only_span(span_exporter))
    assert a[semconv.USER_ID] == "user-7"
    assert a[semconv.SESSION_ID] == "sess-1"
    assert a[semconv.TAGS] == ("beta",)
    assert a[semconv.APP_ATTRIBUTE_PREFIX + "tenant_id"] == "acme"


def test_wrappers_captured_before_uninstrument_pass_through(instrumented, anthropic_client, span_exporter):
    raw_create = anthropic_client.messages.with_raw_response.create  # made while instrumented
    bound_create = anthropic_client.messages.create
    instrumented.uninstrument()
    try:
        raw_create(model=MODEL, max_tokens=20, messages=USER).parse()
        bound_create(model=MODEL, max_tokens=20, messages=USER)
        assert llm_spans(span_exporter) == []
    finally:
        instrumented.instrument(tracer_provider=None)


def test_span_is_current_while_the_sdk_sends(standin, span_exporter):
    """What an HTTP client instrumentation sees: our span is current around each request (retries included)."""
    from opentelemetry import trace

    seen: list[int] = []

    def on_request(request) -> None:
        seen.append(trace.get_current_span().get_span_context().span_id)

    http_client = anthropic.DefaultHttpxClient(event_hooks={"request": [on_request]})
    standin.enqueue(ErrorReply.rate_limit(), MessageReply())
    with anthropic.Anthropic(api_key="test", base_url=standin.base_url, http_client=http_client) as client:
        client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    span = only_span(span_exporter)
    assert seen == [span.get_span_context().span_id] * 2
    assert trace.get_current_span().get_span_context().span_id not in seen
