"""Text out of stored message bodies: the last user message of a `gen_ai.input.messages` body, and its preview.

Bodies come in several shapes (the semconv schema, Anthropic content blocks, plain strings: any instrumentation may
have written them) and may be cut short by the capture budget; what cannot be read answers None.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["PREVIEW_CHARS", "last_user_text", "preview"]

PREVIEW_CHARS: Final = 80


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """`text` on one line (whitespace runs collapsed), cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_USER_ROLE = re.compile(r'"role"\s*:\s*"user"')
_ANY_ROLE = re.compile(r'"role"\s*:')
_TEXT_VALUE = re.compile(r'"(?:content|text)"\s*:\s*"((?:[^"\\]|\\.)*)')


def last_user_text(body: str) -> str | None:
    """The text of the last user message with text in a stored `gen_ai.input.messages` body, or None.

    Understands the semconv message schema (`parts` of `{"type": "text", "content": ...}`), plain string
    `content`, and Anthropic-style content blocks (`{"type": "text", "text": ...}`). A body cut short by the
    capture budget is not valid JSON; its last complete-looking user text is recovered by pattern instead.
    """
    try:
        messages = json.loads(body)
    except ValueError:
        return _last_user_text_truncated(body)
    if isinstance(messages, dict):
        messages = messages.get("messages")
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            text = _message_text(message)
            if text:
                return text
    return None


def _message_text(message: Mapping[str, Any]) -> str | None:
    parts = message.get("parts", message.get("content"))
    if isinstance(parts, str):
        return parts
    if not isinstance(parts, list):
        return None
    texts: list[str] = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") == "text":
            value = part.get("content", part.get("text"))
            if isinstance(value, str):
                texts.append(value)
    return "\n".join(texts) or None


def _last_user_text_truncated(body: str) -> str | None:
    for role in reversed(list(_USER_ROLE.finditer(body))):
        following = _ANY_ROLE.search(body, role.end())  # stay inside this message
        match = _TEXT_VALUE.search(body, role.end(), following.start() if following else len(body))
        if match is None:
            continue
        raw = match.group(1)
        try:
            return str(json.loads(f'"{raw}"'))
        except ValueError:
            return raw
    return None
