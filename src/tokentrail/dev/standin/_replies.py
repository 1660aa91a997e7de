"""Message bodies: the default reply derived from a request, scripted replies, and their SSE event sequences.

Everything here is pure (no I/O) except the prompt-cache bookkeeping, which is guarded by a lock.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tokentrail.dev.standin._scripts import (
    ContentBlock,
    MessageReply,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)

__all__ = [
    "SCENARIOS",
    "CacheTracker",
    "build_message",
    "error_body",
    "estimate_input_tokens",
    "new_id",
    "sse",
    "stream_events",
]

SCENARIOS = frozenset(
    {
        "overloaded",
        "rate_limit",
        "rate_limit_once",
        "server_error",
        "invalid_request",
        "authentication",
        "stream_error",
        "stream_cut",
        "tool_use",
        "thinking",
        "cache",
        "max_tokens",
    }
)

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_WORD = re.compile(r"\S+\s*")
_SPACES = re.compile(r"\s+")
_SNIPPET_CHARS = 80
_DEFAULT_DELTA_CHARS = 16
_CHARS_PER_TOKEN = 4
_THINKING_TYPES = frozenset({"enabled", "adaptive"})


def new_id(prefix: str) -> str:
    """An id shaped like the API's (`msg_01…`, `toolu_01…`, `req_01…`): prefix, `01`, 22 base58 characters."""
    return prefix + "01" + "".join(random.choices(_ALPHABET, k=22))


def estimate_tokens(chars: int) -> int:
    return max(1, math.ceil(chars / _CHARS_PER_TOKEN))


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _prompt_elements(body: Mapping[str, Any]) -> list[Any]:
    """The parts of a request that count as input, in the order the API caches them: tools, system, messages."""
    elements: list[Any] = []
    tools = body.get("tools")
    if isinstance(tools, list):
        elements.extend(tools)
    system = body.get("system")
    if isinstance(system, list):
        elements.extend(system)
    elif system:
        elements.append(system)
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, Mapping) else None
            if isinstance(content, list):
                elements.extend(content)
            else:
                elements.append(message)
    return elements


def estimate_input_tokens(body: Mapping[str, Any]) -> int:
    """Input tokens of a request, estimated from its size (4 characters a token); count_tokens agrees with it."""
    return estimate_tokens(len(_dumps(_prompt_elements(body))))


class CacheTracker:
    """Remembers which prompt prefixes (up to the last `cache_control` breakpoint) were written to the cache."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def hit(self, key: str) -> bool:
        """True if `key` was cached before; records it either way."""
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return True
            self._seen[key] = None
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return False


def _cache_split(body: Mapping[str, Any], total: int, forced: bool, cache: CacheTracker) -> tuple[int, int, int]:
    """(cache_read, cache_write_5m, cache_write_1h) for a request whose whole input is `total` tokens."""
    if forced:
        return total * 6 // 10, total * 3 // 10, 0
    elements = _prompt_elements(body)
    last = -1
    for index, element in enumerate(elements):
        if isinstance(element, Mapping) and isinstance(element.get("cache_control"), Mapping):
            last = index
    if last < 0:
        return 0, 0, 0
    prefix = _dumps(elements[: last + 1])
    tokens = min(total, estimate_tokens(len(prefix)))
    key = hashlib.sha256(f"{body.get('model')}\n{prefix}".encode()).hexdigest()
    if cache.hit(key):
        return tokens, 0, 0
    if elements[last]["cache_control"].get("ttl") == "1h":
        return 0, 0, tokens
    return 0, tokens, 0


def _text_of(content: Any) -> tuple[str, bool]:
    """The text of a message's content and whether it is a tool result."""
    if isinstance(content, str):
        return content, False
    texts: list[str] = []
    tool_result = False
    if isinstance(content, list):
        for block in content:
            if not isinstance(block, Mapping):
                continue
            if block.get("type") == "text":
                texts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_result":
                tool_result = True
                inner, _ = _text_of(block.get("content", ""))
                texts.append(inner)
    return " ".join(texts), tool_result


def _last_user(body: Mapping[str, Any]) -> tuple[str, bool]:
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, Mapping) and message.get("role") == "user":
                return _text_of(message.get("content"))
    return "", False


def _snippet(text: str) -> str:
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= _SNIPPET_CHARS else text[: _SNIPPET_CHARS - 1].rstrip() + "…"


def _custom_tools(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return []
    return [t for t in tools if isinstance(t, Mapping) and t.get("type") in (None, "custom") and "name" in t]


def _pick_tool(body: Mapping[str, Any], prompt: str, tool_result: bool, forced: bool) -> Mapping[str, Any] | None:
    """The tool the default reply calls, or None: forced by `tool_choice`, asked for by the user, or the scenario."""
    tools = _custom_tools(body)
    choice = body.get("tool_choice")
    choice_type = choice.get("type") if isinstance(choice, Mapping) else None
    if choice_type == "none":
        return None
    if choice_type == "tool":
        named = [t for t in tools if t["name"] == choice.get("name")] if isinstance(choice, Mapping) else []
        return named[0] if named else None
    if not tools:
        return {"name": "lookup", "input_schema": {"properties": {"query": {"type": "string"}}}} if forced else None
    if choice_type == "any" or forced:
        mentioned = [t for t in tools if str(t["name"]).lower() in prompt.lower()]
        return (mentioned or tools)[0]
    if tool_result:
        return None
    lowered = prompt.lower()
    for tool in tools:
        if re.search(rf"\b{re.escape(str(tool['name']).lower())}\b", lowered):
            return tool
    if re.search(r"\b(use|call) (a|the|your) tools?\b", lowered):
        return tools[0]
    return None


def _sample(schema: Any, hint: str) -> Any:
    """A deterministic value that fits a JSON schema (enough of it for tool inputs)."""
    if not isinstance(schema, Mapping):
        return hint
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties")
        if not isinstance(props, Mapping):
            return {}
        required = schema.get("required")
        names = [n for n in props if not isinstance(required, list) or n in required] or list(props)
        return {name: _sample(props[name], hint) for name in names}
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "array":
        return [_sample(schema.get("items"), hint)]
    if kind == "null":
        return None
    return hint or "example"


def _default_content(body: Mapping[str, Any], scenarios: frozenset[str]) -> list[dict[str, Any]]:
    prompt, tool_result = _last_user(body)
    snippet = _snippet(prompt)
    blocks: list[dict[str, Any]] = []
    thinking = body.get("thinking")
    if "thinking" in scenarios or (isinstance(thinking, Mapping) and thinking.get("type") in _THINKING_TYPES):
        reasoning = f'The user wrote "{snippet}". A short, direct answer fits; no caveats are needed here.'
        signature = hashlib.sha256(reasoning.encode()).hexdigest()
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": signature})
    tool = _pick_tool(body, prompt, tool_result, "tool_use" in scenarios)
    if tool is not None:
        name = str(tool["name"])
        schema = tool.get("input_schema", {"type": "object"})
        blocks.append({"type": "text", "text": f"I'll use the {name} tool to help with that."})
        tool_input = _sample(schema, snippet)
        blocks.append(
            {
                "type": "tool_use",
                "id": new_id("toolu_"),
                "name": name,
                "input": tool_input if isinstance(tool_input, dict) else {},
            }
        )
    elif tool_result:
        blocks.append({"type": "text", "text": f'Based on the tool result ("{snippet}"), here is the answer.'})
    else:
        text = f'You said: "{snippet}". This is a deterministic reply from the tokentrail stand-in server.'
        blocks.append({"type": "text", "text": text})
    return blocks


def _block_json(block: ContentBlock) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        out: dict[str, Any] = {"type": "text", "text": block.text}
        if block.citations is not None:
            out["citations"] = [dict(c) for c in block.citations]
        return out
    if isinstance(block, ThinkingBlock):
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if isinstance(block, RedactedThinkingBlock):
        return {"type": "redacted_thinking", "data": block.data}
    if isinstance(block, ToolUseBlock):
        return {"type": "tool_use", "id": block.id or new_id("toolu_"), "name": block.name, "input": dict(block.input)}
    return dict(block)


def _output_chars(blocks: Iterable[Mapping[str, Any]]) -> int:
    chars = 0
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            chars += len(block.get("text", ""))
        elif kind == "thinking":
            chars += len(block.get("thinking", ""))
        elif kind == "tool_use":
            chars += len(block.get("name", "")) + len(_dumps(block.get("input", {})))
        else:
            chars += len(_dumps(block))
    return chars


def _apply_limits(body: Mapping[str, Any], blocks: list[dict[str, Any]]) -> tuple[str, str | None]:
    """Cut default content at a stop sequence or at max_tokens, as the model would; return the stop reason."""
    stops = body.get("stop_sequences")
    if isinstance(stops, list):
        for block in blocks:
            if block["type"] != "text":
                continue
            hits = [(block["text"].find(s), s) for s in stops if isinstance(s, str) and s and s in block["text"]]
            if hits:
                position, sequence = min(hits)
                block["text"] = block["text"][:position]
                del blocks[blocks.index(block) + 1 :]
                return "stop_sequence", sequence
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens > 0 and estimate_tokens(_output_chars(blocks)) > max_tokens:
        budget = max_tokens * _CHARS_PER_TOKEN
        kept: list[dict[str, Any]] = []
        for block in blocks:
            size = _output_chars([block])
            if block["type"] in ("text", "thinking") and size > budget:
                key = block["type"]
                kept.append({**block, key: block[key][: max(budget, 0)]})
                break
            if size > budget:
                break
            kept.append(block)
            budget -= size
        blocks[:] = kept or [{"type": "text", "text": ""}]
        return "max_tokens", None
    if any(block["type"] == "tool_use" for block in blocks):
        return "tool_use", None
    return "end_turn", None


def build_message(
    body: Mapping[str, Any],
    reply: MessageReply | None,
    *,
    model: str,
    id_prefix: str = "msg_",
    scenarios: frozenset[str] = frozenset(),
    cache: CacheTracker | None = None,
) -> dict[str, Any]:
    """The full Messages API response object for `body`: the scripted `reply`, or the default reply."""
    reply = reply or MessageReply()
    if reply.content is not None:
        blocks = [_block_json(block) for block in reply.content]
        derived_stop = "tool_use" if any(b.get("type") == "tool_use" for b in blocks) else "end_turn"
        stop_sequence = reply.stop_sequence
    else:
        blocks = _default_content(body, scenarios)
        if "max_tokens" in scenarios:
            limit = max(1, estimate_tokens(_output_chars(blocks)) // 2)
            derived_stop, stop_sequence = _apply_limits({**body, "max_tokens": limit}, blocks)
        else:
            derived_stop, stop_sequence = _apply_limits(body, blocks)
        stop_sequence = reply.stop_sequence or stop_sequence
    usage = _usage(body, reply.usage, blocks, scenarios, cache)
    return {
        "id": reply.id or new_id(id_prefix),
        "type": "message",
        "role": "assistant",
        "model": reply.model or model,
        "content": blocks,
        "stop_reason": reply.stop_reason or derived_stop,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }


def _usage(
    body: Mapping[str, Any],
    given: Usage,
    blocks: Sequence[Mapping[str, Any]],
    scenarios: frozenset[str],
    cache: CacheTracker | None,
) -> dict[str, Any]:
    read, write_5m, write_1h = given.cache_read_input_tokens, 0, given.ephemeral_1h_input_tokens
    write_total = given.cache_creation_input_tokens
    if given.input_tokens is None:
        total = estimate_input_tokens(body)
        if not (read or write_total or write_1h):
            read, write_5m, write_1h = _cache_split(body, total, "cache" in scenarios, cache or CacheTracker())
            write_total = write_5m + write_1h
        input_tokens = max(0, total - read - write_total)
    else:
        input_tokens = given.input_tokens
    if given.ephemeral_5m_input_tokens is not None:
        write_5m = given.ephemeral_5m_input_tokens
    elif not write_5m:
        write_5m = max(0, write_total - write_1h)
    output = given.output_tokens if given.output_tokens is not None else estimate_tokens(_output_chars(blocks))
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": write_total,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h},
        "output_tokens": output,
    }
    if given.service_tier is not None:
        usage["service_tier"] = given.service_tier
    return usage


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
    final_usage = {k: v for k, v in usage.items() if k not in ("cache_creation", "service_tier")}
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def sse(name: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {name}\ndata: {_dumps(data)}\n\n".encode()


def error_body(error_type: str, message: str, request_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body
