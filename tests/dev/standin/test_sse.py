"""The SSE event sequence of a message (rebuilt the way the SDK accumulates it) and SSE framing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tokentrail.dev.standin import MessageReply, TextBlock
from tokentrail.dev.standin._replies import build_message
from tokentrail.dev.standin._sse import sse, stream_events

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


def test_sse_encoding() -> None:
    assert sse("ping", {"type": "ping"}) == b'event: ping\ndata: {"type":"ping"}\n\n'
