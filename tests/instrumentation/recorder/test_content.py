"""Content capture: semconv message JSON from real SDK objects and dicts, media placeholders, byte budget, redaction."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import anthropic
import pytest
from anthropic.types import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.sdk import HAS_THINKING
from tokentrail.contract import semconv
from tokentrail.instrumentation.recorder import content
from tokentrail.instrumentation.recorder.content import ContentPolicy
from tokentrail.instrumentation.settings import CaptureMode

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40).decode()
PNG_BYTES = 8 + 256 * 40


@pytest.fixture
def policy() -> ContentPolicy:
    return ContentPolicy(CaptureMode.SPAN_ONLY)


def decoded(attributes: dict[str, Any], name: str) -> Any:
    value = attributes[name]
    assert isinstance(value, str)
    return json.loads(value)


def sdk_message(**overrides: Any) -> Message:
    if not HAS_THINKING:
        pytest.skip("its thinking block needs an SDK with extended thinking")
    data: dict[str, Any] = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "The user wants weather.", "signature": "c2ln"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 20},
    }
    data.update(overrides)
    return Message.model_validate(data)


def test_disabled_policy_records_nothing() -> None:
    off = ContentPolicy(CaptureMode.NO_CONTENT)
    assert off.enabled is False
    assert off.request_attributes({"system": "s", "messages": [{"role": "user", "content": "hi"}]}) == {}
    assert off.response_attributes(sdk_message()) == {}


def test_plain_chat_request(policy: ContentPolicy) -> None:
    attributes = policy.request_attributes(
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "system": "You are terse.",
            "messages": [
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": [{"type": "text", "text": "Hi."}]},
                {"role": "user", "content": "Où est la gare ?"},
            ],
        }
    )
    assert decoded(attributes, semconv.GEN_AI_SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "You are terse."}]
    assert decoded(attributes, semconv.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Hello"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "Hi."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Où est la gare ?"}]},
    ]
    assert "Où" in str(attributes[semconv.GEN_AI_INPUT_MESSAGES])  # UTF-8, not \\u escapes
    assert semconv.GEN_AI_TOOL_DEFINITIONS not in attributes
    assert semconv.CONTENT_TRUNCATED not in attributes


def test_sdk_sentinels_and_empty_values_are_skipped(policy: ContentPolicy) -> None:
    omit = getattr(anthropic, "omit", anthropic.NOT_GIVEN)  # `omit` arrived in later SDK generations
    attributes = policy.request_attributes(
        {"system": anthropic.NOT_GIVEN, "tools": omit, "messages": [{"role": "user", "content": "x"}]}
    )
    assert set(attributes) == {semconv.GEN_AI_INPUT_MESSAGES}
    assert policy.request_attributes({"system": "", "messages": []}) == {}


def test_system_blocks_tools_and_tool_round_trip(policy: ContentPolicy) -> None:
    attributes = policy.request_attributes(
        {
            "system": [{"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral"}}],
            "tools": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
            ],
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Use the tool.", "signature": "x"},
                        {"type": "redacted_thinking", "data": "opaque"},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "rainy, 14°C"},
                        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "boom", "is_error": True},
                    ],
                },
            ],
        }
    )
    assert decoded(attributes, semconv.GEN_AI_SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "Rules."}]
    assert decoded(attributes, semconv.GEN_AI_TOOL_DEFINITIONS) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"type": "web_search_20250305", "name": "web_search"},
    ]
    messages = decoded(attributes, semconv.GEN_AI_INPUT_MESSAGES)
    assert messages[1]["parts"] == [
        {"type": "reasoning", "content": "Use the tool."},
        {"type": "reasoning", "content": "", "redacted": True},
        {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"city": "Paris"}},
    ]
    assert messages[2]["parts"] == [
        {"type": "tool_call_response", "id": "toolu_1", "response": "rainy, 14°C"},
        {"type": "tool_call_response", "id": "toolu_2", "response": "boom", "is_error": True},
    ]


def test_media_is_never_inlined(policy: ContentPolicy) -> None:
    attributes = policy.request_attributes(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                        {"type": "image", "source": {"type": "file", "file_id": "file_011"}},
                        {
                            "type": "document",
                            "title": "Spec",
                            "source": {"type": "base64", "media_type": "application/pdf", "data": PNG},
                        },
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "A text"}},
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_9",
                            "content": [
                                {"type": "text", "text": "screenshot:"},
                                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                            ],
                        },
                        {"type": "text", "text": "What is this?"},
                    ],
                }
            ]
        }
    )
    raw = attributes[semconv.GEN_AI_INPUT_MESSAGES]
    assert isinstance(raw, str)
    assert PNG[:64] not in raw
    parts = json.loads(raw)[0]["parts"]
    assert parts[0] == {
        "type": "blob",
        "modality": "image",
        "mime_type": "image/png",
        "content": f"<image/png, {PNG_BYTES} bytes omitted>",
    }
    assert parts[1] == {"type": "uri", "modality": "image", "uri": "https://example.com/cat.jpg"}
    assert parts[2] == {"type": "file", "modality": "image", "file_id": "file_011"}
    assert parts[3]["type"] == "blob"
    assert parts[3]["modality"] == "document"
    assert parts[3]["mime_type"] == "application/pdf"
    assert parts[3]["title"] == "Spec"
    assert parts[4] == {"type": "text", "content": "A text", "modality": "document", "mime_type": "text/plain"}
    assert parts[5]["response"][1]["content"] == f"<image/png, {PNG_BYTES} bytes omitted>"
    assert parts[6] == {"type": "text", "content": "What is this?"}


def test_response_from_a_real_sdk_message(policy: ContentPolicy) -> None:
    attributes = policy.response_attributes(sdk_message())
    assert decoded(attributes, semconv.GEN_AI_OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "The user wants weather."},
                {"type": "text", "content": "Let me check."},
                {"type": "tool_call", "id": "toolu_01", "name": "get_weather", "arguments": {"city": "Paris"}},
            ],
            "finish_reason": "tool_call",
        }
    ]


def test_response_from_a_dict_and_unknown_blocks(policy: ContentPolicy) -> None:
    message = {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Found it."},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "otel"}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [{"type": "web_search_result"}]},
            {"type": "brand_new_block", "payload": {"when": datetime(2026, 1, 2, tzinfo=timezone.utc)}},
        ],
        "stop_reason": "end_turn",
    }
    [output] = decoded(policy.response_attributes(message), semconv.GEN_AI_OUTPUT_MESSAGES)
    assert output["finish_reason"] == "stop"
    assert output["parts"][1] == {
        "type": "server_tool_call",
        "id": "srvtoolu_1",
        "name": "web_search",
        "server_tool_call": {"type": "web_search", "arguments": {"query": "otel"}},
    }
    assert output["parts"][2]["type"] == "server_tool_call_response"
    assert output["parts"][2]["id"] == "srvtoolu_1"
    assert output["parts"][3] == {"type": "brand_new_block", "payload": {"when": "2026-01-02 00:00:00+00:00"}}


def test_one_shot_iterators_are_not_consumed(policy: ContentPolicy) -> None:
    def messages() -> Iterator[dict[str, str]]:
        yield {"role": "user", "content": "a"}
        yield {"role": "user", "content": "b"}

    stream = messages()
    attributes = policy.request_attributes({"system": "s", "messages": stream})
    assert semconv.GEN_AI_INPUT_MESSAGES not in attributes
    assert semconv.GEN_AI_SYSTEM_INSTRUCTIONS in attributes
    assert [m["content"] for m in stream] == ["a", "b"]


# --- byte budget ----------------------------------------------------------------------------------------------


def test_a_repeated_system_prompt_is_recorded_alike_every_time() -> None:
    policy = ContentPolicy(CaptureMode.SPAN_ONLY, max_bytes=1000)
    long_prompt = "Be terse. " * 500
    for system in ("You are terse.", long_prompt):
        first = policy.request_attributes({"system": system, "messages": "hi"})
        again = policy.request_attributes({"system": system, "messages": "hi"})
        assert again == first
        assert json.loads(first[semconv.GEN_AI_SYSTEM_INSTRUCTIONS])[0]["type"] == "text"
    assert first[semconv.CONTENT_TRUNCATED] is True  # the long one, from the memo too
    assert len(first[semconv.GEN_AI_SYSTEM_INSTRUCTIONS].encode()) <= 1000


def test_a_redactor_sees_every_system_prompt() -> None:
    seen: list[str] = []

    def redact(name: str, value: Any) -> Any:
        seen.append(name)
        return value

    policy = ContentPolicy(CaptureMode.SPAN_ONLY, redact=redact)
    for _ in range(2):
        policy.request_attributes({"system": "You are terse.", "messages": "hi"})
    assert seen.count(semconv.GEN_AI_SYSTEM_INSTRUCTIONS) == 2


def test_long_text_is_trimmed_to_valid_json_within_budget() -> None:
    policy = ContentPolicy(CaptureMode.SPAN_ONLY, max_bytes=1000)
    attributes = policy.request_attributes(
        {
            "messages": [
                {"role": "user", "content": "a" * 5000},
                {"role": "assistant", "content": "é" * 3000},  # 2 bytes per character in UTF-8
                {"role": "user", "content": "the short question stays whole"},
            ]
        }
    )
    raw = attributes[semconv.GEN_AI_INPUT_MESSAGES]
    assert isinstance(raw, str)
    assert len(raw.encode("utf-8")) <= 1000
    assert attributes[semconv.CONTENT_TRUNCATED] is True
    messages = json.loads(raw)
    assert messages[2]["parts"][0]["content"] == "the short question stays whole"
    first = messages[0]["parts"][0]["content"]
    second = messages[1]["parts"][0]["content"]
    assert first.startswith("aaaa")
    assert "…[truncated " in first
    assert second.startswith("éé")
    assert "…[truncated " in second


def test_too_many_messages_keeps_the_newest() -> None:
    policy = ContentPolicy(CaptureMode.SPAN_ONLY, max_bytes=400)
    messages = [{"role": "user", "content": f"message number {i}"} for i in range(100)]
    attributes = policy.request_attributes({"messages": messages})
    raw = attributes[semconv.GEN_AI_INPUT_MESSAGES]
    assert isinstance(raw, str)
    assert len(raw.encode("utf-8")) <= 400
    kept = json.loads(raw)
    assert kept[-1]["parts"][0]["content"] == "message number 99"
    assert len(kept) < 100
    assert attributes[semconv.CONTENT_TRUNCATED] is True


@settings(max_examples=60, deadline=None, database=None)
@given(
    texts=st.lists(st.text(min_size=0, max_size=3000), min_size=1, max_size=6),
    max_bytes=st.integers(min_value=200, max_value=4000),
)
def test_any_content_fits_the_budget_as_valid_json(texts: list[str], max_bytes: int) -> None:
    policy = ContentPolicy(CaptureMode.SPAN_ONLY, max_bytes=max_bytes)
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": text} for i, text in enumerate(texts)]
    attributes = policy.request_attributes({"messages": messages})
    raw = attributes[semconv.GEN_AI_INPUT_MESSAGES]
    assert isinstance(raw, str)
    encoded = raw.encode("utf-8")
    assert len(encoded) <= max_bytes
    parsed = json.loads(raw)
    assert isinstance(parsed, list)
    full = json.dumps(
        [{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in messages],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert (semconv.CONTENT_TRUNCATED in attributes) == (len(full.encode("utf-8")) > max_bytes)
    if semconv.CONTENT_TRUNCATED not in attributes:
        assert raw == full


# --- redaction ------------------------------------------------------------------------------------------------


def test_redactor_sees_structured_values_and_replaces_them() -> None:
    seen: list[tuple[str, Any]] = []

    def redact(name: str, value: Any) -> Any:
        seen.append((name, value))
        if name == semconv.GEN_AI_INPUT_MESSAGES:
            for message in value:
                for part in message["parts"]:
                    part["content"] = part["content"].replace("4111-1111-1111-1111", "[card]")
        return value

    policy = ContentPolicy(CaptureMode.SPAN_ONLY, redact=redact)
    attributes = policy.request_attributes(
        {"system": "s", "messages": [{"role": "user", "content": "my card is 4111-1111-1111-1111"}]}
    )
    assert [name for name, _ in seen] == [semconv.GEN_AI_SYSTEM_INSTRUCTIONS, semconv.GEN_AI_INPUT_MESSAGES]
    assert isinstance(seen[1][1], list)
    assert decoded(attributes, semconv.GEN_AI_INPUT_MESSAGES)[0]["parts"][0]["content"] == "my card is [card]"
    assert attributes[semconv.CONTENT_REDACTED] is True


def test_redactor_that_raises_or_returns_none_drops_only_that_attribute() -> None:
    def redact(name: str, value: Any) -> Any:
        if name == semconv.GEN_AI_SYSTEM_INSTRUCTIONS:
            raise RuntimeError("redactor bug")
        if name == semconv.GEN_AI_TOOL_DEFINITIONS:
            return None
        return value

    policy = ContentPolicy(CaptureMode.SPAN_ONLY, redact=redact)
    attributes = policy.request_attributes(
        {"system": "secret", "messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "t"}]}
    )
    assert semconv.GEN_AI_SYSTEM_INSTRUCTIONS not in attributes
    assert semconv.GEN_AI_TOOL_DEFINITIONS not in attributes
    assert decoded(attributes, semconv.GEN_AI_INPUT_MESSAGES)[0]["parts"][0]["content"] == "hi"
    output = policy.response_attributes(sdk_message())
    assert semconv.GEN_AI_OUTPUT_MESSAGES in output


def test_unserialisable_values_never_raise(policy: ContentPolicy) -> None:
    class Weird:
        def __str__(self) -> str:
            return "weird"

    attributes = policy.request_attributes(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "t", "name": "n", "input": {"blob": b"\x00\x01", "w": Weird()}}
                    ],
                }
            ]
        }
    )
    part = decoded(attributes, semconv.GEN_AI_INPUT_MESSAGES)[0]["parts"][0]
    assert part["arguments"] == {"blob": "<2 bytes omitted>", "w": "weird"}
    assert policy.request_attributes({"messages": 42}) == {}


def test_a_circular_value_drops_only_its_attribute(policy: ContentPolicy) -> None:
    arguments: dict[str, Any] = {"city": "Paris"}
    arguments["self"] = arguments
    attributes = policy.request_attributes(
        {
            "system": "Be brief.",
            "messages": [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": arguments}]}
            ],
        }
    )
    assert semconv.GEN_AI_INPUT_MESSAGES not in attributes
    assert decoded(attributes, semconv.GEN_AI_SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "Be brief."}]


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=40,
)


@settings(max_examples=200, deadline=None, database=None)
@given(value=_JSON_VALUES)
def test_the_encoder_writes_what_json_dumps_writes(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=content._json_default)
    assert content._encode(value) == expected


def test_the_encoder_joins_a_long_value_and_converts_other_objects() -> None:
    value = [{"role": "user", "parts": [{"type": "text", "content": f"é{index}" * 500}]} for index in range(200)]
    value.append({"when": datetime(2026, 11, 22, tzinfo=timezone.utc), "raw": b"\x00\x01", "pair": (1, 2)})
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=content._json_default)
    assert content._encode(value) == expected
    assert json.loads(expected)[-1] == {"when": "2026-11-22 00:00:00+00:00", "raw": "<2 bytes omitted>", "pair": [1, 2]}


@pytest.mark.parametrize("replacement", [None, "raises", "wrong"], ids=["missing", "raising", "different-output"])
def test_the_encoder_falls_back_to_json_encoder_when_the_c_one_is_unusable(
    monkeypatch: pytest.MonkeyPatch, replacement: str | None
) -> None:
    def raising(*args: Any) -> Any:
        raise TypeError("a different signature")

    def wrong(*args: Any) -> Any:
        return lambda value, indent: ["not json"]

    fakes: dict[str | None, Any] = {None: None, "raises": raising, "wrong": wrong}
    monkeypatch.setattr(content, "_c_make_encoder", fakes[replacement])
    encode = content._encoder()
    assert encode == content._ENCODER.encode
    assert encode({"a": ["é", 1]}) == '{"a":["é",1]}'


def test_max_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        ContentPolicy(CaptureMode.SPAN_ONLY, max_bytes=0)
