"""Tool calls on the span whatever the content policy: names and ids of `tool_use` and `server_tool_use` blocks,
in response order, from every way a response arrives (create, create(stream=True), stream(), async, raw)."""

from __future__ import annotations

import pytest

from tests.fixtures.spans import MODEL, USER, attrs, only_span
from tokentrail.contract import semconv
from tokentrail.dev.standin import MessageReply, TextBlock, ToolUseBlock
from tokentrail.instrumentation import settings as settings_module

pytestmark = pytest.mark.usefixtures("instrumented")

WEB_SEARCH = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "otel"}}
REPLY = MessageReply(
    content=[
        TextBlock("Let me look."),
        ToolUseBlock(name="get_weather", input={"city": "Paris"}, id="toolu_1"),
        WEB_SEARCH,
        ToolUseBlock(name="get_time", input={}, id="toolu_2"),
    ]
)
NAMES = ("get_weather", "web_search", "get_time")
IDS = ("toolu_1", "srvtoolu_1", "toolu_2")


@pytest.fixture(params=[True, False], ids=["content-on", "content-off"])
def tokentrail_settings(request):
    return settings_module.load(env={}, capture_content=request.param, metrics=True)


def assert_tool_calls(span) -> None:
    a = attrs(span)
    assert a[semconv.TOOL_CALL_NAMES] == NAMES
    assert a[semconv.TOOL_CALL_IDS] == IDS


def test_create(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    anthropic_client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    assert_tool_calls(only_span(span_exporter))


def test_create_stream_true(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    for _ in anthropic_client.messages.create(model=MODEL, max_tokens=50, messages=USER, stream=True):
        pass
    assert_tool_calls(only_span(span_exporter))


def test_stream_manager(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    with anthropic_client.messages.stream(model=MODEL, max_tokens=50, messages=USER) as stream:
        stream.get_final_message()
    assert_tool_calls(only_span(span_exporter))


def test_with_raw_response(anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY)
    anthropic_client.messages.with_raw_response.create(model=MODEL, max_tokens=50, messages=USER).parse()
    assert_tool_calls(only_span(span_exporter))


async def test_async_create_and_stream(async_anthropic_client, span_exporter, standin):
    standin.enqueue(REPLY, REPLY)
    await async_anthropic_client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    async with async_anthropic_client.messages.stream(model=MODEL, max_tokens=50, messages=USER) as stream:
        await stream.get_final_message()
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 2
    for span in spans:
        assert_tool_calls(span)


def test_nothing_written_without_tool_calls(anthropic_client, span_exporter, standin):
    standin.enqueue(MessageReply(content=[TextBlock("Just text.")]), MessageReply(content=[TextBlock("Again.")]))
    anthropic_client.messages.create(model=MODEL, max_tokens=50, messages=USER)
    for _ in anthropic_client.messages.create(model=MODEL, max_tokens=50, messages=USER, stream=True):
        pass
    for span in span_exporter.get_finished_spans():
        a = attrs(span)
        assert semconv.TOOL_CALL_NAMES not in a
        assert semconv.TOOL_CALL_IDS not in a
