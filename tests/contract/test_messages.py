"""`tokentrail.contract.messages`: Anthropic blocks as semconv parts, the same for SDK-like objects and dicts."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tokentrail.contract import messages

BLOCKS: list[dict[str, Any]] = [
    {"type": "text", "text": "hi"},
    {"type": "thinking", "thinking": "hmm", "signature": "s"},
    {"type": "redacted_thinking", "data": "x"},
    {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": 1}},
    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "42"}], "is_error": True},
    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [{"url": "u"}]},
    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGVsbG8="}},
    {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}, "title": "A"},
]


def test_parts_of_every_kind() -> None:
    parts = messages.parts(BLOCKS)
    assert [part["type"] for part in parts] == [
        "text",
        "reasoning",
        "reasoning",
        "tool_call",
        "server_tool_call",
        "tool_call_response",
        "server_tool_call_response",
        "blob",
        "uri",
    ]
    assert parts[3] == {"type": "tool_call", "id": "toolu_1", "name": "lookup", "arguments": {"q": 1}}
    assert parts[5]["response"] == [{"type": "text", "content": "42"}]
    assert parts[5]["is_error"] is True
    assert parts[7] == {
        "type": "blob",
        "modality": "image",
        "content": "<image/png, 5 bytes omitted>",
        "mime_type": "image/png",
    }
    assert parts[8] == {"type": "uri", "modality": "document", "uri": "https://example.com/a.pdf", "title": "A"}


def _as_object(block: dict[str, Any]) -> Any:
    """A block as an attribute object, as the SDK's models are (their `input` stays a dict)."""
    return SimpleNamespace(**block)


@pytest.mark.parametrize("block", BLOCKS[:5], ids=lambda block: block["type"])
def test_objects_and_dicts_give_the_same_part(block: dict[str, Any]) -> None:
    assert messages.part(_as_object(block)) == messages.part(block)


def test_an_unknown_block_is_kept_as_a_plain_copy() -> None:
    assert messages.part({"type": "new_kind", "x": 1}) == {"type": "new_kind", "x": 1}
    assert messages.part("plain") == {"type": "text", "content": "plain"}


def test_system_messages_tools_and_output() -> None:
    assert messages.system_instructions("be brief") == [{"type": "text", "content": "be brief"}]
    assert messages.input_messages([{"role": "user", "content": "hi"}, "again"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
        {"role": "user", "parts": [{"type": "text", "content": "again"}]},
    ]
    tools = messages.tool_definitions(
        [
            {"name": "lookup", "description": "d", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"},
        ]
    )
    assert tools == [
        {"type": "function", "name": "lookup", "description": "d", "parameters": {"type": "object"}},
        {"type": "web_search_20250305", "name": "web_search"},
    ]
    final = {"role": "assistant", "content": [{"type": "text", "text": "ok"}], "stop_reason": "max_tokens"}
    assert messages.output_messages(final) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "ok"}], "finish_reason": "length"}
    ]


def test_one_shot_iterators_are_refused_not_consumed() -> None:
    items = iter([{"role": "user", "content": "hi"}])
    with pytest.raises(TypeError):
        messages.input_messages(items)
    assert next(items) == {"role": "user", "content": "hi"}
