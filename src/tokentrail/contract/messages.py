"""Anthropic content as the semconv message schema: the one converter, for capture and for the sink's peers.

Blocks, system prompts, messages, tools and a final message, as the SDK's objects or their dict / JSON form (read
by shape, `tokentrail.contract.shapes.field`), become the OpenTelemetry GenAI message parts and messages
(`{"role": ..., "parts": [...]}`): text, reasoning (thinking), tool calls and responses, server tool calls,
media as `blob` / `uri` / `file` parts, documents and search results. Binary media is never copied: a base64 image
or PDF becomes a `blob` part whose `content` is a placeholder naming the media type and size.

The instrumentor calls it on every request (`tokentrail.instrumentation.recorder.content` adds the capture policy,
the byte budget and redaction); the sink calls it on the request and response bodies that peers record. The
functions raise on shapes they cannot read (a one-shot iterator is refused, never consumed): callers catch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tokentrail.contract.anthropic import finish_reason
from tokentrail.contract.shapes import field as _get
from tokentrail.contract.shapes import reader as _reader

__all__ = [
    "input_message",
    "input_messages",
    "output_messages",
    "part",
    "parts",
    "plain",
    "system_instructions",
    "tool_definition",
    "tool_definitions",
]

log = logging.getLogger(__name__)


def plain(value: Any) -> Any:
    """A JSON-friendly copy of an arbitrary value (SDK models become dicts; base64 sources are elided)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        if value.get("type") == "base64" and "data" in value:
            return {**{k: plain(v) for k, v in value.items() if k != "data"}, "data": _media_placeholder(value)}
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes omitted>"
    to_dict = getattr(value, "model_dump", None) or getattr(value, "to_dict", None)
    if callable(to_dict):
        try:
            return plain(to_dict())
        except Exception:
            log.debug("tokentrail: could not convert %s to a dict", type(value).__name__, exc_info=True)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def _media_placeholder(source: Any) -> str:
    """`<image/png, 12345 bytes omitted>` for a base64 source (size of the decoded data when known)."""
    media_type = _get(source, "media_type") or "binary data"
    data = _get(source, "data")
    size: int | None = None
    if isinstance(data, str):
        padding = 2 if data.endswith("==") else 1 if data.endswith("=") else 0
        size = len(data) * 3 // 4 - padding
    elif isinstance(data, bytes | bytearray | memoryview):
        size = len(data)
    return f"<{media_type}, {size} bytes omitted>" if size is not None else f"<{media_type} omitted>"


def _media_part(block: Any, modality: str) -> dict[str, Any]:
    source = _get(block, "source")
    kind = _get(source, "type")
    part: dict[str, Any]
    if kind == "base64":
        part = {"type": "blob", "modality": modality, "content": _media_placeholder(source)}
        if media_type := _get(source, "media_type"):
            part["mime_type"] = media_type
    elif kind == "url":
        part = {"type": "uri", "modality": modality, "uri": _get(source, "url")}
    elif kind == "file":
        part = {"type": "file", "modality": modality, "file_id": _get(source, "file_id")}
    elif kind == "text":
        part = {
            "type": "text",
            "content": _get(source, "data") or "",
            "modality": modality,
            "mime_type": _get(source, "media_type") or "text/plain",
        }
    elif kind == "content":
        inner = _get(source, "content")
        part = {"type": "document", "modality": modality, "parts": parts(inner)}
    else:
        part = {"type": str(_get(block, "type") or modality), "modality": modality, "source": plain(source)}
    if title := _get(block, "title"):
        part["title"] = title
    return part


def _tool_response(content: Any) -> Any:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        return [part(block) for block in content]
    return plain(content)


def _part_text(block: Any) -> dict[str, Any]:
    return {"type": "text", "content": _get(block, "text") or ""}


def _part_image(block: Any) -> dict[str, Any]:
    return _media_part(block, "image")


def _part_document(block: Any) -> dict[str, Any]:
    return _media_part(block, "document")


def _part_thinking(block: Any) -> dict[str, Any]:
    return {"type": "reasoning", "content": _get(block, "thinking") or ""}


def _part_redacted_thinking(block: Any) -> dict[str, Any]:
    return {"type": "reasoning", "content": "", "redacted": True}


def _part_tool_use(block: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": _get(block, "id"), "name": _get(block, "name"), "arguments": _input(block)}


def _part_server_tool_use(block: Any) -> dict[str, Any]:
    name = _get(block, "name")
    return {
        "type": "server_tool_call",
        "id": _get(block, "id"),
        "name": name,
        "server_tool_call": {"type": name or _get(block, "type"), "arguments": _input(block)},
    }


def _part_tool_result(block: Any) -> dict[str, Any]:
    part = {
        "type": "tool_call_response",
        "id": _get(block, "tool_use_id"),
        "response": _tool_response(_get(block, "content")),
    }
    if _get(block, "is_error"):
        part["is_error"] = True
    return part


def _part_server_tool_result(block: Any) -> dict[str, Any]:
    kind = _get(block, "type")
    return {
        "type": "server_tool_call_response",
        "id": _get(block, "tool_use_id"),
        "server_tool_call_response": {"type": kind, "content": plain(_get(block, "content"))},
    }


def _part_search_result(block: Any) -> dict[str, Any]:
    return {
        "type": "search_result",
        "source": _get(block, "source"),
        "title": _get(block, "title"),
        "parts": parts(_get(block, "content")),
    }


def _part_container_upload(block: Any) -> dict[str, Any]:
    return {"type": "file", "modality": "document", "file_id": _get(block, "file_id")}


def _input(block: Any) -> Any:
    value = _get(block, "input")
    return value if isinstance(value, dict) and all(isinstance(k, str) for k in value) else plain(value)


_PART_CONVERTERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "text": _part_text,
    "image": _part_image,
    "document": _part_document,
    "thinking": _part_thinking,
    "redacted_thinking": _part_redacted_thinking,
    "tool_use": _part_tool_use,
    "server_tool_use": _part_server_tool_use,
    "mcp_tool_use": _part_server_tool_use,
    "tool_result": _part_tool_result,
    "mcp_tool_result": _part_server_tool_result,
    "search_result": _part_search_result,
    "container_upload": _part_container_upload,
}


def part(block: Any) -> dict[str, Any]:
    """One content block (or a string) as a message part; an unknown block is kept as a plain copy."""
    if isinstance(block, str):
        return {"type": "text", "content": block}
    kind = _get(block, "type")
    converter = _PART_CONVERTERS.get(kind) if isinstance(kind, str) else None
    if converter is not None:
        return converter(block)
    if isinstance(kind, str) and kind.endswith("_tool_result"):
        return _part_server_tool_result(block)
    copied = plain(block)
    if isinstance(copied, dict):
        copied.setdefault("type", str(kind or "unknown"))
        return copied
    return {"type": str(kind or "unknown"), "content": copied}


def parts(content: Any) -> list[dict[str, Any]]:
    """Message content (a string, one block, or blocks) as message parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if type(content) is list:  # the usual shape, without the slow ABC checks below
        return [part(block) for block in content]
    if isinstance(content, Iterable) and not isinstance(content, Mapping):
        return [part(block) for block in content]
    return [part(content)]


def _reiterable(value: Any) -> bool:
    """True for lists, tuples and other containers; False for one-shot iterators we must not consume."""
    if isinstance(value, list | tuple):
        return True
    try:
        return iter(value) is not value
    except TypeError:
        return False


def system_instructions(value: Any) -> list[dict[str, Any]]:
    """The `system` parameter (a string or blocks) as the parts of `gen_ai.system_instructions`."""
    if isinstance(value, str):
        return [{"type": "text", "content": value}]
    if not _reiterable(value):
        raise TypeError(f"system of type {type(value).__name__} is not a re-iterable container")
    return [part(block) for block in value]


def input_message(message: Any) -> dict[str, Any]:
    """One request message (or a bare string, a user turn) as a semconv message."""
    if isinstance(message, str):
        return {"role": "user", "parts": [{"type": "text", "content": message}]}
    get = _reader(message)
    role = get("role") or "user"
    return {"role": role if isinstance(role, str) else str(role), "parts": parts(get("content"))}


def input_messages(value: Any) -> list[dict[str, Any]]:
    """The `messages` parameter as the messages of `gen_ai.input.messages`."""
    if isinstance(value, str):
        return [input_message(value)]
    if type(value) is list:  # the usual shape, without `_reiterable`'s checks
        return [input_message(message) for message in value]
    if not _reiterable(value):
        raise TypeError(f"messages of type {type(value).__name__} is a one-shot iterator; not consumed")
    return [input_message(message) for message in value]


def tool_definition(tool: Any) -> dict[str, Any]:
    """One tool (a custom tool with its schema, a server tool by type, the SDK's function-tool helpers)."""
    if not isinstance(tool, dict):
        to_dict = getattr(tool, "to_dict", None)
        if callable(to_dict) and not hasattr(tool, "model_fields"):  # the SDK's function-tool helpers
            tool = to_dict()
    kind = _get(tool, "type")
    name = _get(tool, "name")
    schema = _get(tool, "input_schema")
    if kind in (None, "custom") or schema is not None:
        definition: dict[str, Any] = {"type": "function", "name": name}
        description = _get(tool, "description")
        if description is not None:
            definition["description"] = description
        if schema is not None:
            definition["parameters"] = schema if isinstance(schema, dict) else plain(schema)
        return definition
    return {"type": str(kind), "name": name}


def tool_definitions(value: Any) -> list[dict[str, Any]]:
    """The `tools` parameter as the definitions of `gen_ai.tool.definitions`."""
    if not _reiterable(value):
        raise TypeError(f"tools of type {type(value).__name__} is a one-shot iterator; not consumed")
    return [tool_definition(tool) for tool in value]


def output_messages(message: Any) -> list[dict[str, Any]]:
    """A final Message as `gen_ai.output.messages` (one message, its stop reason mapped to a finish reason)."""
    get = _reader(message)
    role = get("role") or "assistant"
    out: dict[str, Any] = {
        "role": role if isinstance(role, str) else str(role),
        "parts": parts(get("content")),
    }
    stop_reason = get("stop_reason")
    if isinstance(stop_reason, str) and stop_reason:
        out["finish_reason"] = finish_reason(stop_reason)
    return [out]
