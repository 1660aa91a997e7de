"""tokentrail.reports.content: the last user text out of stored `gen_ai.input.messages` bodies of every shape."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.rows import user_messages
from tokentrail.reports import content


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (user_messages("hello", "second"), "second"),
        (json.dumps([{"role": "user", "content": "plain string"}]), "plain string"),
        (json.dumps([{"role": "user", "content": [{"type": "text", "text": "anthropic block"}]}]), "anthropic block"),
        (
            json.dumps(
                [
                    {"role": "user", "parts": [{"type": "text", "content": "asked"}]},
                    {"role": "assistant", "parts": [{"type": "tool_call", "name": "f"}]},
                    {"role": "user", "parts": [{"type": "tool_call_response", "response": "42"}]},
                ]
            ),
            "asked",
        ),
        (json.dumps({"messages": [{"role": "user", "content": "wrapped"}]}), "wrapped"),
        (user_messages("kept", "cut short")[:-12], "cu"),
        ('[{"role": "user", "content": [{"type": "image"}]}, {"role": "assistant", "content": "no', None),
        ('[{"role": "user", "parts": [{"type": "text", "content": "esc\\"aped\\n', 'esc"aped\n'),
        (json.dumps([{"role": "assistant", "content": "only me"}]), None),
        ("not json at all", None),
    ],
)
def test_last_user_text(body: str, expected: str | None) -> None:
    assert content.last_user_text(body) == expected
