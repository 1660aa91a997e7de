"""Stored content bodies as a typed conversation: messages of parts, tool definitions, what could not be read.

A body may be in the semconv message schema (`{"role", "parts": [...]}`, as tokentrail and the sink write it) or
in Anthropic's shapes (`{"role", "content": str | blocks}`, as some peers record it); Anthropic blocks go through
the one converter, `tokentrail.contract.messages`, so both read alike. A body cut short by the capture budget is
not valid JSON: it is kept as raw text and marked truncated. Nothing here renders or escapes; the caller does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from tokentrail.contract import messages as converter

__all__ = [
    "Body",
    "Conversation",
    "Message",
    "Part",
    "PartKind",
    "ToolDefinition",
    "conversation",
    "parse_messages",
    "parse_system",
    "parse_tools",
]

PartKind = Literal["text", "thinking", "tool_call", "tool_call_response", "media", "unknown"]


@dataclass(frozen=True)
class Part:
    """One part of a message. `text` holds the text, the thinking, a tool result, a media placeholder or (for an
    unknown part) its JSON; `arguments` a tool call's arguments as indented JSON."""

    kind: PartKind
    text: str = ""
    tool_id: str | None = None
    name: str | None = None
    """The tool of a tool call; the modality (image, document) of a media part; the type of an unknown part."""
    arguments: str | None = None
    redacted: bool = False
    """Thinking the API returned encrypted only."""
    is_error: bool = False
    """A tool result that reports an error."""


@dataclass(frozen=True)
class Message:
    role: str
    parts: tuple[Part, ...]
    finish_reason: str | None = None


@dataclass(frozen=True)
class ToolDefinition:
    name: str
    description: str | None
    parameters: str | None
    """The input schema as indented JSON."""


@dataclass(frozen=True)
class Body:
    """One stored body, read: `raw` is the text itself when it could not be read (then `truncated` says whether it
    looks cut short rather than foreign)."""

    messages: tuple[Message, ...] = ()
    raw: str | None = None
    truncated: bool = False


@dataclass(frozen=True)
class Conversation:
    """A call's content: system instructions, the request's turns, the response, the tools offered."""

    system: Body
    input: Body
    output: Body
    tools: tuple[ToolDefinition, ...]
    tools_raw: str | None
    truncated: bool
    """The capture budget cut some content short (the call row's flag, or a body that does not parse)."""

    @property
    def captured(self) -> bool:
        """Whether any content was stored for the call."""
        bodies = (self.system, self.input, self.output)
        return any(b.messages or b.raw is not None for b in bodies) or bool(self.tools) or self.tools_raw is not None


# Block types only Anthropic's shapes use (the semconv schema names these reasoning, tool_call, blob, ...).
_ANTHROPIC_TYPES: Final = frozenset(
    {
        "thinking",
        "redacted_thinking",
        "tool_use",
        "tool_result",
        "server_tool_use",
        "mcp_tool_use",
        "mcp_tool_result",
        "image",
        "document",
        "search_result",
        "container_upload",
    }
)


def _as_semconv(block: Any) -> Any:
    """A part in the semconv schema: strings and Anthropic blocks are converted, semconv parts kept."""
    if isinstance(block, str):
        return {"type": "text", "content": block}
    if not isinstance(block, Mapping):
        return {"type": "unknown", "content": block}
    kind = block.get("type")
    anthropic_text = kind == "text" and "text" in block and "content" not in block
    if anthropic_text or kind in _ANTHROPIC_TYPES or (isinstance(kind, str) and kind.endswith("_tool_result")):
        return converter.part(block)
    return block


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _response_text(response: Any) -> str:
    """A tool result's content as text: strings as they are, text parts joined, anything else as JSON."""
    if response is None:
        return ""
    if isinstance(response, list):
        texts = [_to_part(item) for item in response]
        return "\n".join(p.text for p in texts)
    return _json(response)


def _to_part(raw: Any) -> Part:
    block = _as_semconv(raw)
    if not isinstance(block, Mapping):
        return Part("unknown", _json(block))
    kind = block.get("type")
    if kind == "text":
        return Part("text", str(block.get("content") or ""))
    if kind == "reasoning":
        return Part("thinking", str(block.get("content") or ""), redacted=bool(block.get("redacted")))
    if kind == "tool_call":
        return Part("tool_call", tool_id=_str(block.get("id")), name=_str(block.get("name")), arguments=_args(block))
    if kind == "server_tool_call":
        inner = block.get("server_tool_call")
        arguments = inner.get("arguments") if isinstance(inner, Mapping) else None
        return Part(
            "tool_call", tool_id=_str(block.get("id")), name=_str(block.get("name")), arguments=_json(arguments or {})
        )
    if kind == "tool_call_response":
        return Part(
            "tool_call_response",
            _response_text(block.get("response", block.get("result"))),
            tool_id=_str(block.get("id")),
            is_error=bool(block.get("is_error")),
        )
    if kind == "server_tool_call_response":
        return Part("tool_call_response", _json(block.get("server_tool_call_response")), tool_id=_str(block.get("id")))
    if kind in ("blob", "uri", "file", "document"):
        modality = _str(block.get("modality")) or "media"
        label = block.get("content") if kind == "blob" else block.get("uri") or block.get("file_id")
        if kind == "document" and label is None:
            label = "\n".join(p.text for p in (_to_part(x) for x in block.get("parts") or ()))
        return Part("media", str(label or f"<{modality}>"), name=modality)
    return Part("unknown", _json(dict(block)), name=_str(kind) or "unknown")


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _args(block: Mapping[str, Any]) -> str:
    value = block.get("arguments", block.get("input"))
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return _json(value if value is not None else {})


def _message(raw: Any) -> Message:
    if isinstance(raw, str):
        return Message("user", (Part("text", raw),))
    if not isinstance(raw, Mapping):
        return Message("unknown", (_to_part(raw),))
    role = str(raw.get("role") or "user")
    content = raw["parts"] if "parts" in raw else raw.get("content")
    items = [content] if isinstance(content, str | Mapping) else list(content or ())
    finish = raw.get("finish_reason")
    return Message(role, tuple(_to_part(item) for item in items), str(finish) if finish else None)


def _load(body: str | None) -> tuple[Any, Body | None]:
    """The parsed JSON of a body, or the Body to answer with when there is none or it does not parse."""
    if body is None:
        return None, Body()
    try:
        return json.loads(body), None
    except ValueError:
        return None, Body(raw=body, truncated=True)


def parse_messages(body: str | None) -> Body:
    """A `gen_ai.input.messages` / `gen_ai.output.messages` body (a list of messages, or `{"messages": [...]}`)."""
    value, failed = _load(body)
    if failed is not None:
        return failed
    if isinstance(value, Mapping) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, Mapping) and ("role" in value or "parts" in value):
        value = [value]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return Body(raw=body)
    return Body(messages=tuple(_message(item) for item in value))


def parse_system(body: str | None) -> Body:
    """A `gen_ai.system_instructions` body (parts, Anthropic blocks or a string) as one `system` message."""
    value, failed = _load(body)
    if failed is not None:
        return failed
    items = [value] if isinstance(value, str | Mapping) else value
    if not isinstance(items, list):
        return Body(raw=body)
    return Body(messages=(Message("system", tuple(_to_part(item) for item in items)),))


def parse_tools(body: str | None) -> tuple[tuple[ToolDefinition, ...], str | None]:
    """A `gen_ai.tool.definitions` body (semconv `function` definitions or Anthropic tools), or its raw text."""
    value, failed = _load(body)
    if failed is not None:
        return (), failed.raw
    if not isinstance(value, list):
        return ((), None) if value is None else ((), body)
    tools = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        schema = item.get("parameters", item.get("input_schema"))
        description = item.get("description")
        tools.append(
            ToolDefinition(
                name=str(item.get("name") or item.get("type") or "?"),
                description=str(description) if description is not None else None,
                parameters=_json(schema) if schema is not None else None,
            )
        )
    return tuple(tools), None


def conversation(
    system: str | None, input: str | None, output: str | None, tools: str | None, *, truncated: bool = False
) -> Conversation:
    """A call's four stored bodies (None: not captured) as one conversation."""
    read = (parse_system(system), parse_messages(input), parse_messages(output))
    tool_list, tools_raw = parse_tools(tools)
    cut = truncated or any(b.truncated for b in read) or (tools_raw is not None and tools is not None)
    return Conversation(read[0], read[1], read[2], tool_list, tools_raw, cut)
