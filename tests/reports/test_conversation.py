"""tokentrail.reports.conversation: stored bodies in either shape read into one typed conversation."""

from __future__ import annotations

import json

from tokentrail.contract import messages
from tokentrail.reports.conversation import Part, conversation, parse_messages, parse_system, parse_tools


def test_semconv_messages_read_every_part_kind() -> None:
    body = json.dumps(
        [
            {"role": "user", "parts": [{"type": "text", "content": "weather in Paris?"}]},
            {
                "role": "assistant",
                "parts": [
                    {"type": "reasoning", "content": "use the tool"},
                    {"type": "tool_call", "id": "tu_1", "name": "get_weather", "arguments": {"city": "Paris"}},
                ],
            },
            {"role": "user", "parts": [{"type": "tool_call_response", "id": "tu_1", "response": "18C"}]},
            {
                "role": "user",
                "parts": [{"type": "blob", "modality": "image", "content": "<image/png, 9 bytes omitted>"}],
            },
            {"role": "user", "parts": [{"type": "future_part", "x": 1}]},
        ]
    )
    read = parse_messages(body)
    assert read.raw is None
    assert not read.truncated
    assert [m.role for m in read.messages] == ["user", "assistant", "user", "user", "user"]
    assert read.messages[0].parts == (Part("text", "weather in Paris?"),)
    thinking, call = read.messages[1].parts
    assert (thinking.kind, thinking.text) == ("thinking", "use the tool")
    assert (call.kind, call.tool_id, call.name) == ("tool_call", "tu_1", "get_weather")
    assert json.loads(call.arguments or "") == {"city": "Paris"}
    assert read.messages[2].parts == (Part("tool_call_response", "18C", tool_id="tu_1"),)
    assert read.messages[3].parts == (Part("media", "<image/png, 9 bytes omitted>", name="image"),)
    unknown = read.messages[4].parts[0]
    assert unknown.kind == "unknown"
    assert unknown.name == "future_part"
    assert '"x": 1' in unknown.text


def test_anthropic_blocks_read_like_the_converter_writes_them() -> None:
    blocks = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "redacted_thinking", "data": "xx"},
                {"type": "text", "text": "calling"},
                {"type": "tool_use", "id": "tu_9", "name": "search", "input": {"q": "otel"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "tu_9",
                    "content": [{"type": "text", "text": "found"}],
                    "is_error": True,
                },
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
            ],
        },
    ]
    read = parse_messages(json.dumps(blocks))
    assert read.messages[0].parts == (Part("text", "hi"),)
    thinking, redacted, text, call = read.messages[1].parts
    assert (thinking.kind, thinking.text, redacted.redacted) == ("thinking", "hmm", True)
    assert text == Part("text", "calling")
    assert (call.name, json.loads(call.arguments or "")) == ("search", {"q": "otel"})
    result, image = read.messages[2].parts
    assert (result.kind, result.text, result.tool_id, result.is_error) == ("tool_call_response", "found", "tu_9", True)
    assert image.kind == "media"
    assert image.text == messages.part(blocks[2]["content"][1])["content"]


def test_truncated_and_foreign_bodies_keep_their_raw_text() -> None:
    cut = '[{"role": "user", "parts": [{"type": "text", "content": "a long prom'
    read = parse_messages(cut)
    assert (read.messages, read.raw, read.truncated) == ((), cut, True)
    foreign = parse_messages("42")
    assert (foreign.raw, foreign.truncated) == ("42", False)
    assert parse_messages(None).raw is None
    whole = conversation(None, cut, None, None)
    assert whole.truncated
    assert whole.captured
    assert not conversation(None, None, None, None).captured
    assert conversation(None, json.dumps([{"role": "user", "parts": []}]), None, None, truncated=True).truncated


def test_system_and_tools_in_both_shapes() -> None:
    assert parse_system('"be brief"').messages[0].parts == (Part("text", "be brief"),)
    semconv = parse_system(json.dumps([{"type": "text", "content": "rules"}]))
    anthropic = parse_system(json.dumps([{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}]))
    assert semconv.messages == anthropic.messages
    assert semconv.messages[0].role == "system"
    tools, raw = parse_tools(
        json.dumps(
            [
                {"type": "function", "name": "get_weather", "description": "d", "parameters": {"type": "object"}},
                {"name": "search", "input_schema": {"type": "object", "properties": {}}},
                {"type": "web_search_20250305", "name": "web_search"},
            ]
        )
    )
    assert raw is None
    assert [(t.name, t.description) for t in tools] == [("get_weather", "d"), ("search", None), ("web_search", None)]
    assert json.loads(tools[1].parameters or "") == {"type": "object", "properties": {}}
    assert parse_tools('[{"name": "x"') == ((), '[{"name": "x"')
