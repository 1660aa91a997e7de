"""The JSON of the common text-only content, written directly: the fast path of content capture.

Most calls send string or text-block messages and get text back. For those shapes these functions write the
compact JSON (`separators=(",", ":")`, `ensure_ascii=False`, keys in `tokentrail.contract.messages`' order) of
what `messages.input_messages` / `system_instructions` / `output_messages` return, without building the message
dicts and walking them with the encoder. Any other shape (a non-text block, a non-string role or text, an SDK
model with extra fields, a mapping that is not a dict) gives `None`, and the caller takes the general path: the
output is the same either way (`tests/contract/test_message_json.py` checks it on random shapes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tokentrail.contract.anthropic import STOP_REASON_TO_FINISH
from tokentrail.contract.shapes import reader

__all__ = ["input_messages_json", "output_messages_json", "system_instructions_json"]

_string: Callable[[str], str] = json.encoder.encode_basestring  # what the encoder writes strings with (C)
_TEXT_PART = '{"type":"text","content":'
_BETWEEN_PARTS = "}," + _TEXT_PART
"""What separates two text parts' encoded texts (the parts' JSON is joined around the texts)."""
_USER = '"user"'
_ASSISTANT = '"assistant"'
_ROLES = {"user": _USER, "assistant": _ASSISTANT}
"""The JSON of the usual roles, written once."""
_FINISH = {reason: _string(finish) for reason, finish in STOP_REASON_TO_FINISH.items()}
"""The JSON of the finish reason of each Anthropic stop reason (`anthropic.finish_reason`); another stop reason
is its own finish reason."""


def _text_parts(content: Any) -> str | None:
    """`[{"type":"text","content":...},...]` of a string or a list of text blocks, or `None` for anything else."""
    if type(content) is str:
        return f"[{_TEXT_PART}{_string(content)}}}]"
    if type(content) is not list:
        return None
    out = []
    for block in content:
        if type(block) is str:
            text: Any = block
        elif type(block) is dict:
            if block.get("type") != "text":
                return None
            text = block.get("text")
        else:  # an SDK block: its attributes (`shapes.field` reads an object that has them the same way)
            try:
                if block.type != "text":
                    return None
                text = block.text
            except AttributeError:
                return None
        if text is None:
            text = ""  # `messages._part_text`: a missing text is empty
        elif type(text) is not str:
            return None
        out.append(_string(text))
    if len(out) == 1:  # the usual single text block: no join
        return f"[{_TEXT_PART}{out[0]}}}]"
    if not out:
        return "[]"
    return f"[{_TEXT_PART}{_BETWEEN_PARTS.join(out)}}}]"


def system_instructions_json(value: Any) -> str | None:
    """The JSON of `messages.system_instructions(value)` for a string or text blocks; else `None`."""
    return _text_parts(value)


def input_messages_json(value: Any) -> str | None:
    """The JSON of `messages.input_messages(value)` for a list of text-only messages; else `None`."""
    if type(value) is not list:
        return None
    out = []
    for message in value:
        if type(message) is str:
            role: str | None = _USER
            parts = _text_parts(message)
        else:
            get = message.get if type(message) is dict else reader(message)
            role = get("role")
            if not role:  # `role or "user"`, a string
                role = _USER
            elif type(role) is str:
                role = _ROLES.get(role) or _string(role)
            else:
                role = None
            content = get("content")
            parts = "[]" if content is None else _text_parts(content)
        if role is None or parts is None:
            return None
        out.append(f'{{"role":{role},"parts":{parts}}}')
    return f"[{','.join(out)}]"


def output_messages_json(message: Any) -> str | None:
    """The JSON of `messages.output_messages(message)` for a text-only message; else `None`."""
    get = reader(message)
    role = get("role")
    if not role:  # `role or "assistant"`, a string
        role = _ASSISTANT
    elif type(role) is str:
        role = _ROLES.get(role) or _string(role)
    else:
        role = None
    content = get("content")
    parts = "[]" if content is None else _text_parts(content)
    if role is None or parts is None:
        return None
    stop_reason = get("stop_reason")
    if type(stop_reason) is str and stop_reason:
        finish = _FINISH.get(stop_reason) or _string(stop_reason)  # `anthropic.finish_reason`, as JSON
        return f'[{{"role":{role},"parts":{parts},"finish_reason":{finish}}}]'
    if stop_reason is not None and type(stop_reason) is not str:
        return None  # a str subclass or another type: the general path decides
    return f'[{{"role":{role},"parts":{parts}}}]'
