"""Streams: every way a stream can end ends its span exactly once, with the right tokens and status."""

from __future__ import annotations

import asyncio
import gc
import json
import logging

import anthropic
import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from tests.fixtures.spans import MODEL, USER, attrs, llm_spans, only_span, points
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.dev.standin import MessageReply, StreamCut, StreamError, TextBlock, ToolUseBlock, Usage

pytestmark = pytest.mark.usefixtures("instrumented")

REPLY = MessageReply(
    content=[TextBlock("one two three four five six seven eight nine ten")],
    usage=Usage(input_tokens=120, output_tokens=50),
    delta_chars=5,
)


@pytest.fixture(autouse=True)
def no_double_end(caplog):
    """The OTel SDK warns when a span is ended twice: fail the test if that ever happens."""
    caplog.set_level(logging.WARNING, logger="opentelemetry.sdk.trace")
    yield
    assert not [r for r in caplog.records if "ended span" in r.getMessage()]


def assert_complete(span) -> None:
    a = attrs(span)
    assert span.status.status_code is StatusCode.UNSET
    assert a[semconv.GEN_AI_REQUEST_STREAM] is True
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 120
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 50  # message_delta's cumulative count, not the placeholder + it
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert a[semconv.COST_USD] == pytest.approx((120 * 1.0 + 50 * 5.0) / 1e6)
    assert a[semconv.GEN_AI_RESPONSE_ID].startswith("msg_")


def assert_cut(span, *, error_type: str | None = None) -> None:
    a = attrs(span)
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    if error_type is None:
        assert span.status.status_code is StatusCode.UNSET
        assert semconv.ERROR_TYPE not in a
    else:
        assert span.status.status_code is StatusCode.ERROR
        assert a[semconv.ERROR_TYPE] == error_type


def test_create_stream_true(anthropic_client, span_exporter, standin, metric_reader):
    standin.enqueue(REPLY)
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    assert stream.__class__ is anthropic.Stream  # (0.x: isinstance() of a proxy is False, an SDK metaclass quirk)
    assert llm_spans(span_exporter) == []  # open until the stream ends
    types = [event.type for event in stream]
    assert (types[0], types[-1]) == ("message_start", "message_stop")
    span = only_span(span_exporter)
    assert_complete(span)
    text = json.loads(attrs(span)[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"]
    assert text == "one two three four five six seven eight nine ten"
    (ttfc,) = points(metric_reader, semconv.METRIC_TIME_TO_FIRST_CHUNK)
    assert ttfc.count == 1
    assert ttfc.sum == pytest.approx(attrs(span)[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK])


def test_a_stream_records_its_request_id_with_the_end_attributes(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    request_id = stream.response.headers["request-id"]
    for _ in stream:
        pass
    assert request_id.startswith("req_")
    assert attrs(only_span(span_exporter))[anthropic_contract.REQUEST_ID] == request_id


def test_a_stream_cut_short_keeps_its_request_id(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    next(iter(stream))
    stream.close()
    a = attrs(only_span(span_exporter))
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    assert a[anthropic_contract.REQUEST_ID] == stream.response.headers["request-id"]


def test_span_is_never_current_in_the_applications_loop(anthropic_client, span_exporter, tracer_provider, standin):
    standin.enqueue(REPLY)
    outer = tracer_provider.get_tracer("test").start_span("outer")
    with trace.use_span(outer, end_on_exit=True):
        stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
        seen = [trace.get_current_span() for _ in stream]
    assert all(current is outer for current in seen)
    span = only_span(span_exporter)
    assert span.parent is not None
    assert span.parent.span_id == outer.get_span_context().span_id


@pytest.mark.parametrize("entry", ["create", "stream"])
def test_a_stream_request_is_sent_inside_the_span(standin, span_exporter, entry):
    """What an HTTP client instrumentation sees: the span is current while the SDK sends a stream's request
    (reads only parse the body, outside it)."""
    seen: list[int] = []

    def on_request(request) -> None:
        seen.append(trace.get_current_span().get_span_context().span_id)

    standin.enqueue(REPLY)
    http_client = anthropic.DefaultHttpxClient(event_hooks={"request": [on_request]})
    with anthropic.Anthropic(api_key="test", base_url=standin.base_url, http_client=http_client) as client:
        if entry == "create":
            for _ in client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True):
                pass
        else:
            with client.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
                stream.until_done()
    span = only_span(span_exporter)
    assert seen == [span.get_span_context().span_id]
    assert_complete(span)


def test_stream_as_context_manager(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    with anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True) as stream:
        for _ in stream:
            pass
    assert_complete(only_span(span_exporter))


@pytest.mark.parametrize("helper", ["text_stream", "get_final_message", "get_final_text", "until_done", "iterate"])
def test_stream_manager_helpers(anthropic_client, span_exporter, standin, helper):
    standin.enqueue(REPLY)
    with anthropic_client.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
        if helper == "text_stream":
            assert "".join(stream.text_stream) == "one two three four five six seven eight nine ten"
        elif helper == "get_final_message":
            assert stream.get_final_message().usage.output_tokens == 50
        elif helper == "get_final_text":
            assert stream.get_final_text().startswith("one two")
        elif helper == "until_done":
            stream.until_done()
        else:
            assert any(event.type == "message_stop" for event in stream)
    assert_complete(only_span(span_exporter))


def test_stream_manager_with_tool_use(anthropic_client, span_exporter, standin):
    standin.enqueue(MessageReply(content=[ToolUseBlock(name="lookup", input={"q": "x", "n": 2}, id="toolu_9")]))
    with anthropic_client.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
        message = stream.get_final_message()
    a = attrs(only_span(span_exporter))
    assert message.stop_reason == "tool_use"
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_call",)
    part = json.loads(a[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]
    assert (part["type"], part["name"], part["arguments"]) == ("tool_call", "lookup", {"q": "x", "n": 2})


def _read_to_first_delta(stream) -> None:
    """A `for` loop over `stream` left with `break` at the first text delta."""
    for event in stream:
        if event.type == "content_block_delta":
            break


def test_early_break_then_close(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    _read_to_first_delta(stream)
    assert llm_spans(span_exporter) == []
    stream.close()
    stream.close()
    span = only_span(span_exporter)
    assert_cut(span)
    assert attrs(span)[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 120  # known from message_start
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs(span)  # the placeholder is not a count


def test_manager_exit_before_the_end(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    with anthropic_client.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
        next(iter(stream))
    assert_cut(only_span(span_exporter))


def test_exception_in_the_loop(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    error = ValueError("boom")

    def consume() -> None:
        with anthropic_client.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
            for _ in stream:
                raise error

    with pytest.raises(ValueError) as caught:
        consume()
    assert caught.value is error
    assert_cut(only_span(span_exporter), error_type="ValueError")


def test_error_event_mid_stream(anthropic_client, span_exporter, standin):
    standin.enqueue(StreamError(after_events=3, error_type="overloaded_error", reply=REPLY))
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    with pytest.raises(anthropic.APIStatusError):
        for _ in stream:
            pass
    span = only_span(span_exporter)
    assert_cut(span, error_type="overloaded_error")
    assert attrs(span)[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 120


def test_connection_cut_mid_stream(anthropic_client, span_exporter, standin):
    standin.enqueue(StreamCut(after_events=3, reply=REPLY))
    with (
        pytest.raises(Exception),  # noqa: B017 - the transport's own error type differs by SDK generation
        anthropic_client.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream,
    ):
        stream.until_done()
    span = only_span(span_exporter)
    assert attrs(span)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    assert span.status.status_code is StatusCode.ERROR


def test_abandoned_stream_is_ended_by_gc(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    next(stream)
    next(stream)
    del stream
    gc.collect()
    assert_cut(only_span(span_exporter))


def test_abandoned_loop_is_ended_by_gc(anthropic_client, span_exporter, standin):
    """A `for` loop left with `break` and a stream never closed: the loop's generator holds the proxy, and
    dropping both ends the call once, cut short."""
    standin.enqueue(REPLY)
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    _read_to_first_delta(stream)
    assert llm_spans(span_exporter) == []
    del stream
    gc.collect()
    assert_cut(only_span(span_exporter))


def test_next_then_loop_read_one_stream(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    first = next(stream)
    rest = list(stream)
    assert first.type == "message_start"
    assert [event.type for event in rest][-1] == "message_stop"
    assert "message_start" not in [event.type for event in rest]
    assert list(stream) == []  # exhausted: a second loop reads nothing and ends nothing again
    assert_complete(only_span(span_exporter))


def test_closing_under_a_suspended_loop(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    events = iter(stream)
    next(events)
    stream.close()
    assert_cut(only_span(span_exporter))
    del events  # closing the suspended generator ends nothing a second time
    gc.collect()
    assert len(llm_spans(span_exporter)) == 1


def test_abandoned_manager_stream_is_ended_by_gc(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    manager = anthropic_client.messages.stream(model=MODEL, max_tokens=100, messages=USER)
    stream = manager.__enter__()
    next(iter(stream))
    del stream, manager
    gc.collect()
    assert_cut(only_span(span_exporter))


async def test_async_create_stream(async_anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    stream = await async_anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    assert stream.__class__ is anthropic.AsyncStream
    assert [event.type async for event in stream][-1] == "message_stop"
    assert_complete(only_span(span_exporter))


@pytest.mark.parametrize("helper", ["text_stream", "get_final_message", "iterate"])
async def test_async_stream_manager(async_anthropic_client, span_exporter, standin, helper):
    standin.enqueue(REPLY)
    async with async_anthropic_client.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
        if helper == "text_stream":
            assert "".join([text async for text in stream.text_stream]).startswith("one two")
        elif helper == "get_final_message":
            assert (await stream.get_final_message()).usage.output_tokens == 50
        else:
            assert [event.type async for event in stream][-1] == "message_stop"
    assert_complete(only_span(span_exporter))


async def test_async_early_close(async_anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    stream = await async_anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    await stream.__anext__()
    await stream.close()
    await stream.close()
    assert_cut(only_span(span_exporter))


async def test_async_error_event(async_anthropic_client, span_exporter, standin):
    standin.enqueue(StreamError(after_events=3, error_type="overloaded_error", reply=REPLY))
    with pytest.raises(anthropic.APIStatusError):
        async with async_anthropic_client.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
            await stream.until_done()
    assert_cut(only_span(span_exporter), error_type="overloaded_error")


async def test_cancellation_is_not_an_error(async_anthropic_client, span_exporter, standin):
    slow = MessageReply(content=[TextBlock("a b c d e f g h")], delta_chars=2, event_interval_s=0.05)
    standin.enqueue(slow)
    first = asyncio.Event()

    async def consume() -> None:
        stream = await async_anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
        async for _ in stream:
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.ERROR_TYPE not in attrs(span)
    assert attrs(span)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
