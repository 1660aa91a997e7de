"""Message threads (`client.beta.messages.thread()`): every turn is one `beta.messages.create` call, so one chat
span, with the messages the turn sent on the wire (a `continue` sends only the new ones) and the thread link."""

from __future__ import annotations

import importlib
import json

import anthropic
import pytest

from tests.fixtures.sdk import requires_threads
from tests.fixtures.spans import MODEL, attrs, llm_spans, only_span, sdk_spans
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.dev.standin import MessageReply, Usage

pytestmark = [requires_threads, pytest.mark.usefixtures("instrumented")]


def _price(input_tokens: int, output_tokens: int) -> float:
    return input_tokens * 1e-6 + output_tokens * 5e-6  # MODEL's published prices per token


def _sent_texts(span) -> list[str]:
    messages = json.loads(attrs(span)[semconv.GEN_AI_INPUT_MESSAGES])
    return [part["content"] for message in messages for part in message["parts"] if part["type"] == "text"]


def test_each_send_is_one_span_linked_to_the_turn_before(anthropic_client, span_exporter, standin):
    standin.enqueue(
        MessageReply(usage=Usage(input_tokens=20, output_tokens=6)),
        MessageReply(usage=Usage(input_tokens=45, output_tokens=9)),
    )
    thread = anthropic_client.beta.messages.thread(model=MODEL, max_tokens=100, system="Be brief.")
    first = thread.send({"role": "user", "content": "Hello there"})
    second = thread.send({"role": "user", "content": "And again"})

    create, resume = sorted(llm_spans(span_exporter), key=lambda span: span.start_time)
    assert len(span_exporter.get_finished_spans()) == 2
    a, b = attrs(create), attrs(resume)
    assert create.name == resume.name == f"chat {MODEL}"
    assert a[anthropic_contract.THREAD_TYPE] == "create"
    assert anthropic_contract.THREAD_PREVIOUS_MESSAGE_ID not in a
    assert b[anthropic_contract.THREAD_TYPE] == "continue"
    assert b[anthropic_contract.THREAD_PREVIOUS_MESSAGE_ID] == a[semconv.GEN_AI_RESPONSE_ID] == first.id
    assert b[semconv.GEN_AI_RESPONSE_ID] == second.id
    # what went on the wire: the whole history first, then only the new message (the server holds the rest)
    assert _sent_texts(create) == ["Hello there"]
    assert _sent_texts(resume) == ["And again"]
    assert [len(request.json["messages"]) for request in standin.requests] == [1, 1]
    assert "Be brief." in a[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]
    assert semconv.GEN_AI_SYSTEM_INSTRUCTIONS not in b  # a continue takes `system` from the thread
    # tokens and cost each turn's own, counted once
    assert (b[semconv.GEN_AI_USAGE_INPUT_TOKENS], b[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (45, 9)
    assert a[semconv.COST_USD] == pytest.approx(_price(20, 6))
    assert b[semconv.COST_USD] == pytest.approx(_price(45, 9))


def test_a_streamed_turn_is_one_span_with_time_to_first_chunk(anthropic_client, span_exporter, standin):
    thread = anthropic_client.beta.messages.thread(model=MODEL, max_tokens=100)
    thread.send({"role": "user", "content": "Hello there"})
    span_exporter.clear()
    standin.enqueue(MessageReply(usage=Usage(input_tokens=30, output_tokens=12)))
    with thread.stream({"role": "user", "content": "Stream it"}) as stream:
        text = "".join(stream.text_stream)
    span = only_span(span_exporter)
    a = attrs(span)
    assert "Stream it" in text
    assert a[semconv.GEN_AI_REQUEST_STREAM] is True
    assert a[anthropic_contract.THREAD_TYPE] == "continue"
    assert a[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert (a[semconv.GEN_AI_USAGE_INPUT_TOKENS], a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (30, 12)
    assert a[semconv.COST_USD] == pytest.approx(_price(30, 12))
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert thread.previous_message_id == a[semconv.GEN_AI_RESPONSE_ID]


def test_a_stream_left_early_ends_its_span_and_the_turn(anthropic_client, span_exporter):
    thread = anthropic_client.beta.messages.thread(model=MODEL, max_tokens=100)
    with thread.stream({"role": "user", "content": "Hello there"}) as stream:
        next(iter(stream))
    a = attrs(only_span(span_exporter))
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    thread.send({"role": "user", "content": "Once more"})  # the thread is free again
    assert len(llm_spans(span_exporter)) == 2


def test_a_thread_tool_runner_records_each_turn_once(anthropic_client, span_exporter, standin):
    @anthropic.beta_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    thread = anthropic_client.beta.messages.thread(
        model=MODEL,
        max_tokens=200,
        tools=[get_weather],
        messages=[{"role": "user", "content": "use a tool: get_weather for Paris"}],
    )
    assert [message.stop_reason for message in thread.tool_runner()] == ["tool_use", "end_turn"]
    create, resume = sorted(llm_spans(span_exporter), key=lambda span: span.start_time)
    a, b = attrs(create), attrs(resume)
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_call",)
    assert a[semconv.TOOL_CALL_NAMES] == ("get_weather",)
    assert b[anthropic_contract.THREAD_PREVIOUS_MESSAGE_ID] == a[semconv.GEN_AI_RESPONSE_ID]
    sent = json.loads(b[semconv.GEN_AI_INPUT_MESSAGES])
    assert [part["type"] for message in sent for part in message["parts"]] == ["tool_call_response"]
    assert standin.requests[-1].json["thread"]["type"] == "continue"


async def test_async_thread_send_and_stream(async_anthropic_client, span_exporter, standin):
    standin.enqueue(
        MessageReply(usage=Usage(input_tokens=20, output_tokens=6)),
        MessageReply(usage=Usage(input_tokens=40, output_tokens=8)),
    )
    thread = async_anthropic_client.beta.messages.thread(model=MODEL, max_tokens=100)
    first = await thread.send({"role": "user", "content": "Hello there"})
    async with thread.stream({"role": "user", "content": "Stream it"}) as stream:
        async for _ in stream:
            pass
    create, resume = sorted(llm_spans(span_exporter), key=lambda span: span.start_time)
    b = attrs(resume)
    assert attrs(create)[semconv.COST_USD] == pytest.approx(_price(20, 6))
    assert b[semconv.GEN_AI_REQUEST_STREAM] is True
    assert b[anthropic_contract.THREAD_PREVIOUS_MESSAGE_ID] == first.id
    assert b[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert b[semconv.COST_USD] == pytest.approx(_price(40, 8))


def test_a_lost_thread_is_replayed_as_a_second_span(anthropic_client, span_exporter, standin):
    thread = anthropic_client.beta.messages.thread(model=MODEL, max_tokens=100)
    thread.send({"role": "user", "content": "Hello there"})
    standin.reset()  # the server forgets the thread: the SDK replays the history under a new one
    span_exporter.clear()
    thread.send({"role": "user", "content": "And again"})
    lost, replay = sorted(llm_spans(span_exporter), key=lambda span: span.start_time)
    assert attrs(lost)[semconv.ERROR_TYPE] == "not_found_error"
    assert attrs(replay)[anthropic_contract.THREAD_TYPE] == "create"
    assert _sent_texts(replay)[0] == "Hello there"
    assert _sent_texts(replay)[-1] == "And again"
    assert semconv.COST_USD not in attrs(lost)


_base_client = importlib.import_module("anthropic._base_client")


@pytest.mark.sdk_native_tracing
@pytest.mark.skipif(not hasattr(_base_client, "start_api_call_span"), reason="no native call spans on this SDK")
def test_no_sdk_call_span_beside_a_turn(standin, tracer_provider, span_exporter):
    options = {"tracer_provider": tracer_provider}
    with anthropic.Anthropic(api_key="test", base_url=standin.base_url, open_telemetry=options) as client:  # type: ignore[call-arg]
        thread = client.beta.messages.thread(model=MODEL, max_tokens=100)
        thread.send({"role": "user", "content": "Hello there"})
        with thread.stream({"role": "user", "content": "Stream it"}) as stream:
            stream.until_done()
    assert [span.name for span in sdk_spans(span_exporter)] == []
    assert len(llm_spans(span_exporter)) == 2


async def test_a_streaming_async_tool_runner_records_each_turn_once(async_anthropic_client, span_exporter):
    @anthropic.beta_async_tool
    async def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    thread = async_anthropic_client.beta.messages.thread(
        model=MODEL,
        max_tokens=200,
        tools=[get_weather],
        messages=[{"role": "user", "content": "use a tool: get_weather for Paris"}],
    )
    stop_reasons = []
    async for stream in thread.tool_runner(stream=True):
        stop_reasons.append((await stream.get_final_message()).stop_reason)
    assert stop_reasons == ["tool_use", "end_turn"]
    create, resume = sorted(llm_spans(span_exporter), key=lambda span: span.start_time)
    a, b = attrs(create), attrs(resume)
    assert a[semconv.GEN_AI_REQUEST_STREAM] is b[semconv.GEN_AI_REQUEST_STREAM] is True
    assert a[semconv.TOOL_CALL_NAMES] == ("get_weather",)
    assert b[anthropic_contract.THREAD_PREVIOUS_MESSAGE_ID] == a[semconv.GEN_AI_RESPONSE_ID]
    assert b[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in b
