"""`sink.facts`: tool calls and attempts from tokentrail's attributes, or cheaply from what a peer's span holds."""

from __future__ import annotations

import json

from tokentrail.contract import semconv
from tokentrail.sink import facts

OUTPUT = json.dumps(
    [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me look."},
                {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"city": "Oslo"}},
                {"type": "server_tool_call", "id": "srvtoolu_2", "name": "web_search", "server_tool_call": {}},
            ],
            "finish_reason": "tool_call",
        }
    ]
)


def test_tokentrail_attributes_win() -> None:
    attrs = {
        semconv.TOOL_CALL_NAMES: ["a", "b"],
        semconv.TOOL_CALL_IDS: ["1", "2"],
        semconv.GEN_AI_OUTPUT_MESSAGES: OUTPUT,
    }
    assert facts.tool_calls(attrs) == (["a", "b"], ["1", "2"])


def test_tool_calls_come_from_the_output_messages_when_not_said() -> None:
    assert facts.tool_calls({semconv.GEN_AI_OUTPUT_MESSAGES: OUTPUT}) == (
        ["get_weather", "web_search"],
        ["toolu_1", "srvtoolu_2"],
    )
    assert facts.tool_calls({semconv.GEN_AI_OUTPUT_MESSAGES: json.loads(OUTPUT)}).names == ["get_weather", "web_search"]


def test_no_tool_call_and_odd_output_give_none() -> None:
    text_only = '[{"role":"assistant","parts":[{"type":"text","content":"4"}]}]'
    for attrs in ({}, {semconv.GEN_AI_OUTPUT_MESSAGES: text_only}, {semconv.GEN_AI_OUTPUT_MESSAGES: '"tool_call'}):
        assert facts.tool_calls(attrs) == (None, None)
    assert facts.tool_calls({semconv.GEN_AI_OUTPUT_MESSAGES: [{"parts": "tool_call"}, 3]}) == (None, None)


def test_attempts_from_the_attribute_else_the_retry_events() -> None:
    retry = {"name": semconv.RETRY_EVENT, "attributes": {semconv.RETRY_ATTEMPT: 1}}
    assert facts.attempts({semconv.REQUEST_ATTEMPTS: 3}, []) == 3
    assert facts.attempts({}, [retry, retry, {"name": "exception"}]) == 3
    assert facts.attempts({}, [{"name": "exception"}]) is None
    assert facts.attempts({semconv.REQUEST_ATTEMPTS: -2}, []) is None
    assert facts.attempts({semconv.REQUEST_ATTEMPTS: "x"}, [retry]) == 2
