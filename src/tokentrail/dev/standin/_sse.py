"""The streamed form of a message: its SSE event sequence, and SSE framing."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["sse", "stream_events"]

_WORD = re.compile(r"\S+\s*")
_DEFAULT_DELTA_CHARS = 16


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _pieces(text: str, size: int) -> list[str]:
    """`text` in pieces of about `size` characters, split after whitespace so words stay whole."""
    if not text:
        return []
    pieces: list[str] = []
    current = ""
    for word in _WORD.findall(text) or [text]:
        current += word
        if len(current) >= size:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


def stream_events(message: Mapping[str, Any], delta_chars: int | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events (name, data) the API streams for `message`, several deltas per block."""
    size = delta_chars or _DEFAULT_DELTA_CHARS
    usage = dict(message["usage"])
    start_usage = {**usage, "output_tokens": 1}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        kind = block.get("type")
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"], size)]
            if block.get("citations"):
                opening["citations"] = []
                deltas += [{"type": "citations_delta", "citation": citation} for citation in block["citations"]]
        elif kind == "thinking":
            opening = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": piece} for piece in _pieces(block["thinking"], size)]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            raw = _dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": ""}]
            deltas += [
                {"type": "input_json_delta", "partial_json": raw[i : i + size]} for i in range(0, len(raw), size)
            ]
        else:
            opening = dict(block)
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening})
        )
        if index == 0:
            events.append(("ping", {"type": "ping"}))
        events.extend(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}) for delta in deltas
        )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    if not message["content"]:
        events.append(("ping", {"type": "ping"}))
    final_usage = {k: v for k, v in usage.items() if k not in ("cache_creation", "service_tier", "speed")}
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def sse(name: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {name}\ndata: {_dumps(data)}\n\n".encode()
