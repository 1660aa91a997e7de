"""The first-party API of the stand-in, through the real `anthropic` SDK (and raw HTTP for wire details)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

from tests.fixtures.sdk import requires_thinking
from tokentrail.dev.standin import (
    Delay,
    ErrorReply,
    MessageReply,
    RedactedThinkingBlock,
    StandinServer,
    StreamCut,
    StreamError,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)

MODEL = "claude-haiku-4-5"
HELLO = [{"role": "user", "content": "Hello there"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"],
    },
}
API_HEADERS = {"x-api-key": "test", "anthropic-version": "2023-06-01", "content-type": "application/json"}


def transport_errors() -> tuple[type[BaseException], ...]:
    """What a dropped connection raises, on every SDK generation (httpx before 1.x, httpx2 after)."""
    errors: list[type[BaseException]] = [anthropic.APIConnectionError, httpx.TransportError]
    try:
        import httpx2
    except ImportError:
        pass
    else:
        errors.append(httpx2.TransportError)
    return tuple(errors)


def cache_creation(usage: Any) -> dict[str, int]:
    """`usage.cache_creation` as a dict: a typed object on newer SDKs, a plain dict (extra field) on 0.x."""
    value = usage.cache_creation
    assert value is not None
    return value if isinstance(value, dict) else value.model_dump()


def raw_post(standin: StandinServer, path: str, body: Any, **headers: str) -> httpx.Response:
    with httpx.Client(base_url=standin.base_url) as client:
        return client.post(path, content=json.dumps(body), headers={**API_HEADERS, **headers})


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


# --- replies ------------------------------------------------------------------------------------------------


def test_create_returns_the_default_reply(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    message = anthropic_client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)

    assert message.id.startswith("msg_01")
    assert message.model == MODEL
    assert message.role == "assistant"
    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]
    assert '"Hello there"' in message.content[0].text  # type: ignore[union-attr]
    count = anthropic_client.messages.count_tokens(model=MODEL, messages=HELLO)
    assert message.usage.input_tokens == count.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens == 0
    recorded = standin.requests[0]
    assert (recorded.method, recorded.path, recorded.flavour) == ("POST", "/v1/messages", "anthropic")
    assert recorded.json["messages"] == HELLO
    assert "test" in (recorded.headers.get("x-api-key") or recorded.headers["authorization"])
    assert "anthropic-version" in recorded.headers


def test_default_reply_is_deterministic(anthropic_client: anthropic.Anthropic) -> None:
    first = anthropic_client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)
    second = anthropic_client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)

    assert first.content == second.content
    assert first.usage == second.usage
    assert first.id != second.id


async def test_async_create(async_anthropic_client: anthropic.AsyncAnthropic) -> None:
    message = await async_anthropic_client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)

    assert message.content[0].type == "text"
    assert message.usage.output_tokens > 0


def test_stream_sends_the_wire_events(standin: StandinServer) -> None:
    body = {"model": MODEL, "max_tokens": 200, "messages": HELLO, "stream": True}
    response = raw_post(standin, "/v1/messages", body)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["request-id"].startswith("req_")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert names.count("content_block_delta") > 2
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["usage"]["output_tokens"] == 1
    assert start["usage"]["input_tokens"] > 0
    assert start["content"] == []
    assert start["stop_reason"] is None
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "end_turn"
    assert final["usage"]["output_tokens"] > 1
    assert final["usage"]["input_tokens"] == start["usage"]["input_tokens"]


def test_stream_matches_the_json_reply(anthropic_client: anthropic.Anthropic) -> None:
    reply = anthropic_client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)
    with anthropic_client.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == reply.content[0].text  # type: ignore[union-attr]
    assert final.content[0].text == text  # type: ignore[union-attr]
    assert final.usage.output_tokens == reply.usage.output_tokens
    assert final.usage.input_tokens == reply.usage.input_tokens
    assert final.stop_reason == "end_turn"


def test_raw_stream_iteration(anthropic_client: anthropic.Anthropic) -> None:
    with anthropic_client.messages.create(model=MODEL, max_tokens=200, messages=HELLO, stream=True) as stream:
        types = [event.type for event in stream]

    assert types[0] == "message_start"
    assert types[-1] == "message_stop"
    assert "ping" not in types  # the SDK drops pings
    assert types.count("content_block_delta") > 2


async def test_async_stream_helper(async_anthropic_client: anthropic.AsyncAnthropic) -> None:
    async with async_anthropic_client.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()

    assert len(pieces) > 2
    assert final.content[0].text == "".join(pieces)  # type: ignore[union-attr]


@requires_thinking
def test_thinking_block_streams_with_signature(anthropic_client: anthropic.Anthropic) -> None:
    with anthropic_client.messages.stream(
        model=MODEL, max_tokens=2000, messages=HELLO, thinking={"type": "enabled", "budget_tokens": 1024}
    ) as stream:
        deltas = [event.delta.type for event in stream if event.type == "content_block_delta"]
        final = stream.get_final_message()

    assert [block.type for block in final.content] == ["thinking", "text"]
    thinking = final.content[0]
    assert thinking.type == "thinking"
    assert thinking.thinking
    assert thinking.signature
    assert "thinking_delta" in deltas
    assert "signature_delta" in deltas
    assert "text_delta" in deltas


def test_forced_tool_use(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(
        model=MODEL,
        max_tokens=500,
        messages=HELLO,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "tool", "name": "get_weather"},
    )

    assert message.stop_reason == "tool_use"
    tool_use = message.content[-1]
    assert tool_use.type == "tool_use"
    assert tool_use.name == "get_weather"
    assert tool_use.id.startswith("toolu_")
    assert set(tool_use.input) == {"city", "unit"}  # type: ignore[arg-type]
    assert tool_use.input["unit"] == "celsius"  # type: ignore[index]


def test_tool_use_streams_input_json(anthropic_client: anthropic.Anthropic) -> None:
    messages = [{"role": "user", "content": "Please use get_weather for Paris"}]
    with anthropic_client.messages.stream(
        model=MODEL,
        max_tokens=500,
        messages=messages,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content_block_delta"]
        final = stream.get_final_message()

    partial = "".join(d.partial_json for d in deltas if d.type == "input_json_delta")
    tool_use = final.content[-1]
    assert tool_use.type == "tool_use"
    assert json.loads(partial) == tool_use.input
    assert final.stop_reason == "tool_use"


def test_no_tool_call_in_answer_to_a_tool_result(anthropic_client: anthropic.Anthropic) -> None:
    first = anthropic_client.messages.create(
        model=MODEL,
        max_tokens=500,
        messages=[{"role": "user", "content": "What is the weather? Use get_weather."}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    tool_use = first.content[-1]
    assert tool_use.type == "tool_use"
    second = anthropic_client.messages.create(
        model=MODEL,
        max_tokens=500,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "What is the weather? Use get_weather."},
            {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "21 C"}]},
        ],
    )

    assert second.stop_reason == "end_turn"
    assert [block.type for block in second.content] == ["text"]
    assert "21 C" in second.content[0].text  # type: ignore[union-attr]


def test_max_tokens_cuts_the_reply(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(model=MODEL, max_tokens=3, messages=HELLO)

    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens <= 3
    assert len(message.content[0].text) <= 12  # type: ignore[union-attr]


def test_stop_sequence_cuts_the_reply(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(model=MODEL, max_tokens=200, messages=HELLO, stop_sequences=["reply"])

    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "reply"
    assert "reply" not in message.content[0].text  # type: ignore[union-attr]


def test_prompt_cache_write_then_read(anthropic_client: anthropic.Anthropic) -> None:
    system = [{"type": "text", "text": "You are terse. " * 50, "cache_control": {"type": "ephemeral"}}]
    first = anthropic_client.messages.create(model=MODEL, max_tokens=100, system=system, messages=HELLO)  # type: ignore[arg-type]
    second = anthropic_client.messages.create(model=MODEL, max_tokens=100, system=system, messages=HELLO)  # type: ignore[arg-type]
    count = anthropic_client.messages.count_tokens(model=MODEL, system=system, messages=HELLO)  # type: ignore[arg-type]

    assert first.usage.cache_creation_input_tokens
    assert first.usage.cache_creation_input_tokens > 100
    assert first.usage.cache_read_input_tokens == 0
    assert cache_creation(first.usage)["ephemeral_5m_input_tokens"] == first.usage.cache_creation_input_tokens
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    for message in (first, second):
        usage = message.usage
        total = usage.input_tokens + (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0)
        assert total == count.input_tokens


def test_prompt_cache_one_hour_ttl(anthropic_client: anthropic.Anthropic) -> None:
    system = [{"type": "text", "text": "Long rules. " * 40, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    message = anthropic_client.messages.create(model=MODEL, max_tokens=100, system=system, messages=HELLO)  # type: ignore[arg-type]

    split = cache_creation(message.usage)
    assert split["ephemeral_1h_input_tokens"] == message.usage.cache_creation_input_tokens > 0
    assert split["ephemeral_5m_input_tokens"] == 0


# --- scripts --------------------------------------------------------------------------------------------------

SCRIPTED = MessageReply(
    content=[
        ThinkingBlock("Let me think.", signature="sig=="),
        RedactedThinkingBlock("opaque"),
        TextBlock("Checking the weather now."),
        ToolUseBlock("get_weather", {"city": "Paris", "unit": "celsius"}, id="toolu_fixed"),
    ],
    model="claude-opus-4-6",
    usage=Usage(
        input_tokens=100,
        output_tokens=42,
        cache_creation_input_tokens=30,
        cache_read_input_tokens=20,
        ephemeral_1h_input_tokens=10,
    ),
    id="msg_scripted",
)


def test_scripted_message_reply(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(SCRIPTED)
    message = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)

    assert message.id == "msg_scripted"
    assert message.model == "claude-opus-4-6"
    assert [block.type for block in message.content] == ["thinking", "redacted_thinking", "text", "tool_use"]
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (100, 42)
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (30, 20)
    assert cache_creation(usage) == {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 10}
    assert standin.pending == 0
    # the script is used once; the next request gets the default reply
    assert anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO).model == MODEL


@requires_thinking
def test_scripted_reply_streams_the_same_message(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(SCRIPTED)
    with anthropic_client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        final = stream.get_final_message()

    assert final.id == "msg_scripted"
    assert [block.type for block in final.content] == ["thinking", "redacted_thinking", "text", "tool_use"]
    assert final.content[3].input == {"city": "Paris", "unit": "celsius"}  # type: ignore[union-attr]
    assert final.content[0].signature == "sig=="  # type: ignore[union-attr]
    assert (final.usage.input_tokens, final.usage.output_tokens) == (100, 42)
    assert final.usage.cache_read_input_tokens == 20


def test_scripted_stop_reason_and_raw_block(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(MessageReply(content=[{"type": "text", "text": "I can't help with that."}], stop_reason="refusal"))
    message = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)

    assert message.stop_reason == "refusal"
    assert message.content[0].text == "I can't help with that."  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("reply", "exception", "error_type"),
    [
        (ErrorReply.rate_limit(), anthropic.RateLimitError, "rate_limit_error"),
        (ErrorReply.overloaded(), anthropic.APIStatusError, "overloaded_error"),  # OverloadedError: not public on 0.x
        (ErrorReply.invalid_request("messages: bad"), anthropic.BadRequestError, "invalid_request_error"),
        (ErrorReply.authentication(), anthropic.AuthenticationError, "authentication_error"),
        (ErrorReply.api_error(), anthropic.InternalServerError, "api_error"),
        (ErrorReply(403), anthropic.PermissionDeniedError, "permission_error"),
    ],
)
def test_scripted_errors(
    standin: StandinServer, reply: ErrorReply, exception: type[anthropic.APIStatusError], error_type: str
) -> None:
    standin.enqueue(reply)
    with (
        anthropic.Anthropic(api_key="test", base_url=standin.base_url, max_retries=0) as client,
        pytest.raises(exception) as caught,
    ):
        client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)

    error = caught.value
    assert error.status_code == reply.status
    assert isinstance(error.body, dict)
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == error_type
    assert error.body["request_id"] == error.response.headers["request-id"]
    assert error.request_id == error.response.headers["request-id"]
    if reply.status in (429, 529):
        assert error.response.headers["retry-after"] == "1"
        assert error.response.headers["retry-after-ms"] == "1"


def test_error_reply_options(standin: StandinServer) -> None:
    standin.enqueue(ErrorReply(429, message="slow down", retry_after=7, retry_after_ms=None, should_retry=False))
    response = raw_post(standin, "/v1/messages", {"model": MODEL, "max_tokens": 10, "messages": HELLO})

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert "retry-after-ms" not in response.headers
    assert response.headers["x-should-retry"] == "false"
    assert response.json()["error"] == {"type": "rate_limit_error", "message": "slow down"}


def test_retries_reach_the_reply(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(ErrorReply.rate_limit(), ErrorReply.overloaded())
    message = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)

    assert message.content[0].type == "text"
    assert [r.headers.get("x-stainless-retry-count") for r in standin.requests] == ["0", "1", "2"]


def test_retries_give_up(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(*[ErrorReply.overloaded()] * 3)
    with pytest.raises(anthropic.APIStatusError):
        anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)

    assert len(standin.requests) == 3
    assert standin.pending == 0


def test_error_event_mid_stream(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(StreamError(after_events=4))
    received = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True) as stream,
    ):
        received.extend(event.type for event in stream)

    assert received == ["message_start", "content_block_start", "content_block_delta"]  # the ping is dropped
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["error"]["type"] == "overloaded_error"
    assert body["error"]["message"] == "Overloaded"


async def test_error_event_mid_stream_async(
    async_anthropic_client: anthropic.AsyncAnthropic, standin: StandinServer
) -> None:
    standin.enqueue(StreamError(after_events=2, error_type="api_error", message="boom"))
    with pytest.raises(anthropic.APIStatusError) as caught:  # noqa: PT012
        async with async_anthropic_client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
            async for _ in stream:
                pass

    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"] == {"type": "api_error", "message": "boom"}


def test_stream_error_on_a_json_request_is_an_http_error(
    anthropic_client: anthropic.Anthropic, standin: StandinServer
) -> None:
    standin.enqueue(StreamError(), StreamError(), StreamError())
    with pytest.raises(anthropic.APIStatusError) as caught:
        anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)

    assert caught.value.status_code == 529


def test_stream_cut(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(StreamCut(after_events=3))
    received = []
    with (
        pytest.raises(transport_errors()),
        anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True) as stream,
    ):
        received.extend(event.type for event in stream)

    assert received == ["message_start", "content_block_start"]
    # the server is fine afterwards
    assert anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO).content


def test_json_reply_cut(standin: StandinServer) -> None:
    standin.enqueue(StreamCut())
    with (
        anthropic.Anthropic(api_key="test", base_url=standin.base_url, max_retries=0) as client,
        pytest.raises(anthropic.APIConnectionError),
    ):
        client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)


def test_delay_then_script(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(Delay(0.01, then=MessageReply(content=[TextBlock("late")])), Delay(0.01))
    first = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    second = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)

    assert first.content[0].text == "late"  # type: ignore[union-attr]
    assert "Hello there" in second.content[0].text  # type: ignore[union-attr]


def test_delay_times_out_the_client() -> None:
    with StandinServer() as server:  # its own server: stopping it cuts the delay short
        server.enqueue(Delay(30.0))
        with (
            anthropic.Anthropic(api_key="test", base_url=server.base_url, max_retries=0, timeout=0.2) as client,
            pytest.raises(anthropic.APITimeoutError),
        ):
            client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)


def test_paced_stream(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.enqueue(MessageReply(content=[TextBlock("one two three four")], delta_chars=4, event_interval_s=0.001))
    with anthropic_client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
        pieces = list(stream.text_stream)

    assert pieces == ["one ", "two ", "three ", "four"]


def test_latency_settings_keep_replies_intact(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    standin.latency_s = 0.001
    message = anthropic_client.messages.create(
        model=MODEL, max_tokens=100, messages=HELLO, extra_headers={"x-standin-latency-ms": "1"}
    )
    with pytest.raises(anthropic.BadRequestError, match="not a number"):
        anthropic_client.messages.create(
            model=MODEL, max_tokens=100, messages=HELLO, extra_headers={"x-standin-latency-ms": "soon"}
        )

    assert '"Hello there"' in message.content[0].text  # type: ignore[union-attr]


def test_concurrent_clients(standin: StandinServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def call(n: int) -> str:
        with anthropic.Anthropic(api_key="test", base_url=standin.base_url, max_retries=0) as client:
            reply = client.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": f"n{n}"}])
            return reply.content[0].text  # type: ignore[union-attr]

    with ThreadPoolExecutor(max_workers=16) as pool:
        texts = list(pool.map(call, range(32)))

    assert all(f'"n{n}"' in text for n, text in enumerate(texts))
    assert len(standin.requests) == 32


def test_other_endpoints_leave_message_scripts_queued(
    anthropic_client: anthropic.Anthropic, standin: StandinServer
) -> None:
    standin.enqueue(MessageReply(content=[TextBlock("kept")]))
    assert anthropic_client.messages.count_tokens(model=MODEL, messages=HELLO).input_tokens > 0
    assert standin.pending == 1
    message = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert message.content[0].text == "kept"  # type: ignore[union-attr]


def test_count_tokens_takes_error_scripts(standin: StandinServer) -> None:
    standin.enqueue(ErrorReply.rate_limit())
    with (
        anthropic.Anthropic(api_key="test", base_url=standin.base_url, max_retries=0) as client,
        pytest.raises(anthropic.RateLimitError),
    ):
        client.messages.count_tokens(model=MODEL, messages=HELLO)


# --- scenarios (out-of-process control) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "exception", "status"),
    [
        ("overloaded", anthropic.APIStatusError, 529),
        ("rate_limit", anthropic.RateLimitError, 429),
        ("server_error", anthropic.InternalServerError, 500),
        ("invalid_request", anthropic.BadRequestError, 400),
        ("authentication", anthropic.AuthenticationError, 401),
    ],
)
def test_error_scenarios(
    anthropic_client: anthropic.Anthropic,
    standin: StandinServer,
    scenario: str,
    exception: type[anthropic.APIStatusError],
    status: int,
) -> None:
    with pytest.raises(exception) as caught:
        anthropic_client.messages.create(
            model=MODEL, max_tokens=100, messages=HELLO, extra_headers={"x-standin-scenario": scenario}
        )

    assert caught.value.status_code == status
    retried = status in (429, 500, 529)
    assert len(standin.requests) == (3 if retried else 1)


def test_rate_limit_once_scenario(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    headers = {"x-standin-scenario": "rate_limit_once"}
    for _ in range(2):
        message = anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, extra_headers=headers)
        assert message.content

    assert len(standin.requests) == 4  # each call: a 429, then the retry succeeds


def test_rate_limit_once_without_retry_header(standin: StandinServer) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": HELLO}
    first = raw_post(standin, "/v1/messages", body, **{"x-standin-scenario": "rate_limit_once", "idempotency-key": "k"})
    again = raw_post(standin, "/v1/messages", body, **{"x-standin-scenario": "rate_limit_once", "idempotency-key": "k"})

    assert (first.status_code, again.status_code) == (429, 200)


@pytest.mark.parametrize(("scenario", "events"), [("stream_error", 3), ("stream_cut", 3)])
def test_stream_scenarios(standin: StandinServer, scenario: str, events: int) -> None:
    body = {"model": MODEL, "max_tokens": 100, "messages": HELLO, "stream": True}
    with httpx.Client(base_url=standin.base_url) as client:
        request = client.build_request(
            "POST", "/v1/messages", json=body, headers={**API_HEADERS, "x-standin-scenario": scenario}
        )
        response = client.send(request, stream=True)
        chunks: list[bytes] = []
        try:
            chunks.extend(response.iter_raw())
        except httpx.RemoteProtocolError:
            assert scenario == "stream_cut"
        finally:
            response.close()

    parsed = sse_events(b"".join(chunks).decode())
    names = [name for name, _ in parsed]
    if scenario == "stream_error":
        assert names == ["message_start", "content_block_start", "ping", "error"]
        assert parsed[-1][1]["error"]["type"] == "overloaded_error"
    else:
        assert len(names) == events


def test_content_scenarios(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(
        model=MODEL, max_tokens=500, messages=HELLO, extra_headers={"x-standin-scenario": "thinking, tool_use, cache"}
    )

    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    assert message.stop_reason == "tool_use"
    assert message.usage.cache_read_input_tokens
    assert message.usage.cache_creation_input_tokens


def test_max_tokens_scenario(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(
        model=MODEL, max_tokens=500, messages=HELLO, extra_headers={"x-standin-scenario": "max_tokens"}
    )

    assert message.stop_reason == "max_tokens"


def test_unknown_scenario_is_rejected(anthropic_client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="nonsense"):
        anthropic_client.messages.create(
            model=MODEL, max_tokens=100, messages=HELLO, extra_headers={"x-standin-scenario": "nonsense"}
        )


# --- wire details ---------------------------------------------------------------------------------------------


def test_unknown_path_is_not_found(standin: StandinServer) -> None:
    with httpx.Client(base_url=standin.base_url) as client:
        response = client.get("/v1/nothing", headers=API_HEADERS)

    assert response.status_code == 404
    assert response.headers["request-id"].startswith("req_")
    assert response.json()["error"]["type"] == "not_found_error"
    assert response.json()["request_id"] == response.headers["request-id"]


def test_missing_api_version(standin: StandinServer) -> None:
    with httpx.Client(base_url=standin.base_url) as client:
        response = client.post("/v1/messages", json={}, headers={"x-api-key": "k"})

    assert response.status_code == 400
    assert "anthropic-version" in response.json()["error"]["message"]


def test_missing_api_key(standin: StandinServer) -> None:
    with httpx.Client(base_url=standin.base_url) as client:
        response = client.post("/v1/messages", json={}, headers={"anthropic-version": "2023-06-01"})

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": MODEL, "messages": HELLO}, "max_tokens: Field required"),
        ({"max_tokens": 10, "messages": HELLO}, "model: Field required"),
        ({"model": MODEL, "max_tokens": 0, "messages": HELLO}, "max_tokens"),
        ([1, 2], "JSON object"),
    ],
)
def test_invalid_requests(standin: StandinServer, body: Any, message: str) -> None:
    response = raw_post(standin, "/v1/messages", body)

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert message in response.json()["error"]["message"]


def test_malformed_json(standin: StandinServer) -> None:
    with httpx.Client(base_url=standin.base_url) as client:
        response = client.post("/v1/messages", content=b"{nope", headers=API_HEADERS)

    assert response.status_code == 400
    assert standin.requests[-1].json is None


def test_chunked_request_body(standin: StandinServer) -> None:
    body = json.dumps({"model": MODEL, "max_tokens": 10, "messages": HELLO}).encode()
    with httpx.Client(base_url=standin.base_url) as client:
        response = client.post("/v1/messages", content=iter([body[:10], body[10:]]), headers=API_HEADERS)

    assert response.status_code == 200
    assert standin.requests[-1].json["model"] == MODEL


def test_keep_alive(standin: StandinServer) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": HELLO}
    with httpx.Client(base_url=standin.base_url) as client:
        responses = [client.post("/v1/messages", json=body, headers=API_HEADERS) for _ in range(3)]

    assert all(r.status_code == 200 and r.http_version == "HTTP/1.1" for r in responses)
    assert all("close" not in r.headers.get("connection", "") for r in responses)
    assert len({r.headers["request-id"] for r in responses}) == 3


def test_models(anthropic_client: anthropic.Anthropic) -> None:
    models = anthropic_client.models.list()
    ids = [model.id for model in models.data]

    assert "claude-sonnet-4-6" in ids
    assert anthropic_client.models.retrieve(ids[0]).id == ids[0]


def test_beta_messages(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    message = anthropic_client.beta.messages.create(
        model=MODEL, max_tokens=100, messages=HELLO, betas=["context-management-2025-06-27"]
    )

    assert message.content[0].type == "text"
    assert standin.requests[-1].path == "/v1/messages"
    assert standin.requests[-1].query in ("", "beta=true")  # older SDKs mark beta calls in the query
    assert standin.requests[-1].headers["anthropic-beta"] == "context-management-2025-06-27"


# --- the server object ----------------------------------------------------------------------------------------


def test_reset_forgets_everything(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    anthropic_client.messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    standin.enqueue(ErrorReply())
    standin.latency_s = 0.5
    standin.reset()

    assert standin.requests == []
    assert standin.pending == 0
    assert standin.latency_s == 0.0


def test_requests_are_bounded() -> None:
    with StandinServer(max_recorded=2) as server:
        for n in range(4):
            raw_post(server, "/v1/messages", {"model": f"m{n}", "max_tokens": 10, "messages": HELLO})
        models = [r.json["model"] for r in server.requests]

    assert models == ["m2", "m3"]


def test_stop_closes_idle_connections_and_interrupts_delays() -> None:
    server = StandinServer().start()
    body = {"model": MODEL, "max_tokens": 10, "messages": HELLO}
    with httpx.Client(base_url=server.base_url) as client:
        assert client.post("/v1/messages", json=body, headers=API_HEADERS).status_code == 200
        server.stop()  # returns although the client still holds its keep-alive connection
        with pytest.raises(httpx.TransportError):
            client.post("/v1/messages", json=body, headers=API_HEADERS)
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = server.base_url
