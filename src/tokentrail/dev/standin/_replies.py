"""Message bodies: the default reply derived from a request, scripted replies, and the error envelope.

Everything here is pure (no I/O) except the prompt-cache bookkeeping (in `_usage`), which is guarded by a lock.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping
from typing import Any

from tokentrail.dev.standin._scripts import (
    ContentBlock,
    MessageReply,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
)
from tokentrail.dev.standin._usage import CHARS_PER_TOKEN, CacheTracker, estimate_tokens, output_chars, usage_json

__all__ = ["build_message", "error_body", "new_id"]

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_SPACES = re.compile(r"\s+")
_SNIPPET_CHARS = 80
_THINKING_TYPES = frozenset({"enabled", "adaptive"})


def new_id(prefix: str) -> str:
    """An id shaped like the API's (`msg_01…`, `toolu_01…`, `req_01…`): prefix, `01`, 22 base58 characters."""
    return prefix + "01" + "".join(random.choices(_ALPHABET, k=22))


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
    if isinstance(max_tokens, int) and max_tokens > 0 and estimate_tokens(output_chars(blocks)) > max_tokens:
        budget = max_tokens * CHARS_PER_TOKEN
        kept: list[dict[str, Any]] = []
        for block in blocks:
            size = output_chars([block])
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
            limit = max(1, estimate_tokens(output_chars(blocks)) // 2)
            derived_stop, stop_sequence = _apply_limits({**body, "max_tokens": limit}, blocks)
        else:
            derived_stop, stop_sequence = _apply_limits(body, blocks)
        stop_sequence = reply.stop_sequence or stop_sequence
    usage = usage_json(body, reply.usage, blocks, scenarios, cache)
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


def error_body(
    error_type: str, message: str, request_id: str | None, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if details is not None:
        error["details"] = dict(details)
    body: dict[str, Any] = {"type": "error", "error": error}
    if request_id is not None:
        body["request_id"] = request_id
    return body
