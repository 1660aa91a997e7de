"""The default reply, scripted replies and their SSE event sequences (pure functions)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tokentrail.dev.standin import ErrorReply, MessageReply, StreamError, TextBlock, ToolUseBlock, Usage
from tokentrail.dev.standin._replies import (
    CacheTracker,
    build_message,
    estimate_input_tokens,
    new_id,
    sse,
    stream_events,
)

BODY: dict[str, Any] = {"model": "m", "max_tokens": 500, "messages": [{"role": "user", "content": "Hi there"}]}


def accumulate(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Rebuild the message from its stream, the way the SDK's accumulator does."""
    message: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for name, data in events:
        if name == "message_start":
            message = json.loads(json.dumps(data["message"]))
        elif name == "content_block_start":
            message["content"].append(dict(data["content_block"]))
        elif name == "content_block_delta":
            block, delta = message["content"][data["index"]], data["delta"]
            kind = delta["type"]
            if kind == "text_delta":
                block["text"] += delta["text"]
            elif kind == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif kind == "signature_delta":
                block["signature"] += delta["signature"]
            elif kind == "citations_delta":
                block["citations"].append(delta["citation"])
            elif kind == "input_json_delta":
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
        elif name == "content_block_stop" and data["index"] in partial:
            message["content"][data["index"]]["input"] = json.loads(partial[data["index"]])
        elif name == "message_delta":
            message.update(data["delta"])
            message["usage"].update(data["usage"])
    return message


@pytest.mark.parametrize(
    "body",
    [
        BODY,
        {**BODY, "thinking": {"type": "enabled", "budget_tokens": 1024}},
        {
            **BODY,
            "tools": [{"name": "t", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}],
            "tool_choice": {"type": "any"},
        },
    ],
)
def test_stream_rebuilds_the_message(body: dict[str, Any]) -> None:
    message = build_message(body, None, model="m")
    events = stream_events(message, delta_chars=5)

    assert accumulate(events) == message
    assert sum(1 for name, _ in events if name == "content_block_delta") >= 2 * len(message["content"])


def test_citations_stream_as_deltas() -> None:
    citation = {
        "type": "char_location",
        "cited_text": "x",
        "document_index": 0,
        "start_char_index": 0,
        "end_char_index": 1,
    }
    reply = MessageReply(content=[TextBlock("Quoted.", citations=[citation])])
    message = build_message(BODY, reply, model="m")
    events = stream_events(message)

    assert accumulate(events) == message
    assert [d["delta"]["type"] for n, d in events if n == "content_block_delta"][-1] == "citations_delta"


def test_stream_of_an_empty_message_still_pings() -> None:
    message = build_message(BODY, MessageReply(content=[], stop_reason="end_turn"), model="m")
    names = [name for name, _ in stream_events(message)]

    assert names == ["message_start", "ping", "message_delta", "message_stop"]


def test_input_tokens_grow_with_the_request() -> None:
    longer = {**BODY, "messages": [{"role": "user", "content": "Hi there " * 100}]}

    assert estimate_input_tokens(longer) > estimate_input_tokens(BODY) > 0
    assert build_message(longer, None, model="m")["usage"]["input_tokens"] == estimate_input_tokens(longer)


def test_tool_input_follows_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "x": {"type": "number"},
            "flag": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "mode": {"enum": ["fast", "slow"]},
            "opt": {"type": ["null", "string"]},
            "nested": {"type": "object", "properties": {"a": {"type": "integer"}}},
        },
    }
    body = {**BODY, "tools": [{"name": "f", "input_schema": schema}], "tool_choice": {"type": "tool", "name": "f"}}
    (tool_use,) = [b for b in build_message(body, None, model="m")["content"] if b["type"] == "tool_use"]

    assert tool_use["input"] == {
        "n": 1,
        "x": 1.5,
        "flag": True,
        "tags": ["Hi there"],
        "mode": "fast",
        "opt": "Hi there",
        "nested": {"a": 1},
    }


@pytest.mark.parametrize(
    ("content", "tool_choice", "expected"),
    [
        ("What's up?", None, None),
        ("Please call lookup_order now", None, "lookup_order"),
        ("Use a tool please", None, "search"),
        ("What's up?", {"type": "any"}, "search"),
        ("Please call lookup_order now", {"type": "none"}, None),
        ("What's up?", {"type": "tool", "name": "lookup_order"}, "lookup_order"),
    ],
)
def test_when_the_default_reply_calls_a_tool(content: str, tool_choice: Any, expected: str | None) -> None:
    tools = [{"name": "search", "input_schema": {"type": "object"}}, {"name": "lookup_order", "input_schema": {}}]
    body = {**BODY, "messages": [{"role": "user", "content": content}], "tools": tools}
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    message = build_message(body, None, model="m")
    names = [b["name"] for b in message["content"] if b["type"] == "tool_use"]

    assert names == ([expected] if expected else [])
    assert message["stop_reason"] == ("tool_use" if expected else "end_turn")


def test_server_tools_are_not_called() -> None:
    body = {**BODY, "tools": [{"type": "web_search_20250305", "name": "web_search"}], "tool_choice": {"type": "any"}}

    assert [b["type"] for b in build_message(body, None, model="m")["content"]] == ["text"]


def test_scripted_usage_fills_in_estimates() -> None:
    reply = MessageReply(content=[TextBlock("abcdefgh")], usage=Usage(cache_read_input_tokens=5))
    usage = build_message(BODY, reply, model="m")["usage"]

    assert usage["output_tokens"] == 2
    assert usage["cache_read_input_tokens"] == 5
    assert usage["input_tokens"] == estimate_input_tokens(BODY) - 5
    assert usage["service_tier"] == "standard"


def test_scripted_ids_and_generated_ones() -> None:
    reply = MessageReply(content=[ToolUseBlock("f", {"a": 1}), ToolUseBlock("g", {}, id="toolu_x")])
    content = build_message(BODY, reply, model="m", id_prefix="msg_bdrk_")["content"]

    assert content[0]["id"].startswith("toolu_01")
    assert content[1]["id"] == "toolu_x"
    assert len(new_id("msg_")) == len("msg_") + 24


def test_cache_tracker_is_bounded() -> None:
    cache = CacheTracker(capacity=2)

    # "b" is the least recently used when "c" arrives, so it is forgotten; "a" stays
    assert [cache.hit(key) for key in ("a", "b", "a", "c", "a", "b")] == [False, False, True, False, True, False]


def test_sse_encoding() -> None:
    assert sse("ping", {"type": "ping"}) == b'event: ping\ndata: {"type":"ping"}\n\n'


def test_error_reply_defaults() -> None:
    assert (ErrorReply(429).type, ErrorReply(529).type, ErrorReply(418).type) == (
        "rate_limit_error",
        "overloaded_error",
        "api_error",
    )
    assert ErrorReply(529).text == "Overloaded"
    assert ErrorReply(400, message="bad").text == "bad"
    assert StreamError(error_type="api_error").text == "Internal server error"
