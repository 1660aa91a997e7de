"""The default reply and scripted replies (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from tokentrail.dev.standin import ErrorReply, MessageReply, StreamError, TextBlock, ToolUseBlock, Usage
from tokentrail.dev.standin._replies import build_message, new_id
from tokentrail.dev.standin._usage import estimate_input_tokens

BODY: dict[str, Any] = {"model": "m", "max_tokens": 500, "messages": [{"role": "user", "content": "Hi there"}]}


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


def test_error_reply_defaults() -> None:
    assert (ErrorReply(429).type, ErrorReply(529).type, ErrorReply(418).type) == (
        "rate_limit_error",
        "overloaded_error",
        "api_error",
    )
    assert ErrorReply(529).text == "Overloaded"
    assert ErrorReply(400, message="bad").text == "bad"
    assert StreamError(error_type="api_error").text == "Internal server error"
