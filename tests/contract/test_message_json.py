"""`tokentrail.contract.message_json`: the JSON written directly equals the general converter's JSON, encoded."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from anthropic.types import Message, TextBlock, Usage
from hypothesis import given, settings
from hypothesis import strategies as st

from tokentrail.contract import message_json, messages


def _dumps(value: Any) -> str:
    """The content encoder's output (`tests/instrumentation/recorder/test_content.py` pins it to this)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


texts = st.text(max_size=40)
text_values = st.one_of(texts, st.none(), st.integers(), st.just(""))
blocks = st.one_of(
    texts,
    st.builds(lambda text: {"type": "text", "text": text}, text_values),
    st.builds(lambda text: {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}, texts),
    st.builds(lambda: {"type": "text"}),
    st.builds(lambda text: SimpleNamespace(type="text", text=text), text_values),
    st.builds(lambda text: TextBlock(type="text", text=text), texts),
    st.builds(lambda text: {"type": "thinking", "thinking": text, "signature": "s"}, texts),
    st.builds(lambda: {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}),
)
contents = st.one_of(st.none(), texts, st.lists(blocks, max_size=4), st.tuples(blocks))
roles = st.one_of(st.sampled_from(["user", "assistant", ""]), st.none(), st.integers(), texts)
request_messages = st.one_of(
    texts,
    st.builds(lambda role, content: {"role": role, "content": content}, roles, contents),
    st.builds(lambda content: {"content": content}, contents),
    st.builds(lambda role, content: SimpleNamespace(role=role, content=content), roles, contents),
)
stop_reasons = st.one_of(
    st.none(), st.sampled_from(["end_turn", "max_tokens", "tool_use", "refusal", "", "something_new"]), st.integers()
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(request_messages, max_size=5))
def test_input_messages_json_equals_the_general_path(value: list[Any]) -> None:
    fast = message_json.input_messages_json(value)
    if fast is not None:
        assert fast == _dumps(messages.input_messages(value))


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(texts, st.lists(blocks, max_size=4)))
def test_system_instructions_json_equals_the_general_path(value: Any) -> None:
    fast = message_json.system_instructions_json(value)
    if fast is not None:
        assert fast == _dumps(messages.system_instructions(value))


@settings(max_examples=300, deadline=None, database=None)
@given(roles, contents, stop_reasons)
def test_output_messages_json_equals_the_general_path(role: Any, content: Any, stop_reason: Any) -> None:
    for message in (
        {"role": role, "content": content, "stop_reason": stop_reason},
        SimpleNamespace(role=role, content=content, stop_reason=stop_reason),
    ):
        fast = message_json.output_messages_json(message)
        if fast is not None:
            assert fast == _dumps(messages.output_messages(message))


def test_the_common_shapes_take_the_fast_path() -> None:
    prompt = 'Say "hi" — in one word\n'
    conversation = [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]},
        "and again",
    ]
    assert message_json.input_messages_json(conversation) == _dumps(messages.input_messages(conversation))
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    assert message_json.system_instructions_json(system) == _dumps(messages.system_instructions(system))
    reply = Message(
        id="msg_1",
        type="message",
        role="assistant",
        model="claude-sonnet-4-5",
        content=[TextBlock(type="text", text="Hi ünïcode")],
        stop_reason="end_turn",
        stop_sequence=None,
        usage=Usage(input_tokens=1, output_tokens=1),
    )
    fast = message_json.output_messages_json(reply)
    assert fast == '[{"role":"assistant","parts":[{"type":"text","content":"Hi ünïcode"}],"finish_reason":"stop"}]'
    assert fast == _dumps(messages.output_messages(reply))


def test_other_shapes_are_left_to_the_general_path() -> None:
    tool_use = {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}
    assert message_json.input_messages_json([tool_use]) is None
    assert message_json.input_messages_json(({"role": "user", "content": "hi"},)) is None
    assert message_json.input_messages_json([{"role": 3, "content": "hi"}]) is None
    assert message_json.system_instructions_json([{"type": "text", "text": 5}]) is None
    assert message_json.output_messages_json({"role": "assistant", "content": "x", "stop_reason": 7}) is None
