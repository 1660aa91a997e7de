"""Peer content and usage in the contract's shapes, through the one converter and the one usage rule.

Peers record Anthropic content as raw request and response bodies, as JSON strings, or as lists of blocks; each
becomes semconv message parts through `tokentrail.contract.messages` (the converter the instrumentor uses), and an
Anthropic `usage` becomes token attributes through `tokentrail.contract.anthropic` (`read_usage`,
`usage_attributes`). What is peer-specific stays here: JSON strings decoded first, OpenAI-style tool wrappers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import coerce, messages
from tokentrail.contract import semconv as sc
from tokentrail.sink.peers._common import Translated, dumps, finish_reasons

__all__ = ["parts", "request_body_content", "response_body", "tool_definition", "usage_from_anthropic"]


def _part(block: Any) -> dict[str, Any] | None:
    if isinstance(block, Mapping):
        if "type" not in block and "text" in block:
            return {"type": "text", "content": block.get("text", "")}
        return messages.part(block)
    if isinstance(block, str):
        return messages.part(block)
    return None


def parts(content: Any) -> list[dict[str, Any]]:
    """Anthropic message content (a string, a block, a list of blocks, or such a list as a JSON string) as parts."""
    if isinstance(content, str):
        stripped = content.lstrip()
        if stripped.startswith("[{") or stripped.startswith('{"type"'):
            decoded = coerce.json_value(stripped)
            if isinstance(decoded, (list, dict)):
                return parts(decoded)
        return [{"type": "text", "content": content}]
    if isinstance(content, Mapping):
        part = _part(content)
        return [part] if part else []
    if isinstance(content, (list, tuple)):
        return [part for part in map(_part, content) if part is not None]
    return []


def tool_definition(tool: Any) -> dict[str, Any] | None:
    """An Anthropic tool (or an OpenAI-style function, its schema maybe a JSON string) as a semconv definition."""
    if not isinstance(tool, Mapping):
        return None
    function = tool.get("function")
    if isinstance(function, Mapping):
        tool = function
    if not isinstance(tool.get("name"), str):
        return None
    schema = tool.get("input_schema", tool.get("parameters"))
    if isinstance(schema, str):
        schema = coerce.json_value(schema)
    shaped = {key: value for key, value in tool.items() if key not in {"input_schema", "parameters", "description"}}
    if isinstance(tool.get("description"), str):
        shaped["description"] = tool["description"]
    if schema is not None:
        shaped["input_schema"] = schema
    return messages.tool_definition(shaped)


def request_body_content(body: Mapping[str, Any], out: Translated) -> None:
    """Content attributes from an Anthropic Messages request body (OpenInference's `input.value`)."""
    system = body.get("system")
    if system is not None and sc.GEN_AI_SYSTEM_INSTRUCTIONS not in out:
        found = parts(system)
        if found:
            out[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = dumps(found)
    inputs = body.get("messages")
    if isinstance(inputs, list) and sc.GEN_AI_INPUT_MESSAGES not in out:
        out[sc.GEN_AI_INPUT_MESSAGES] = dumps(
            [
                {"role": str(message.get("role") or "user"), "parts": parts(message.get("content"))}
                for message in inputs
                if isinstance(message, Mapping)
            ]
        )
    tools = body.get("tools")
    if isinstance(tools, list) and sc.GEN_AI_TOOL_DEFINITIONS not in out:
        definitions = [d for d in map(tool_definition, tools) if d is not None]
        if definitions:
            out[sc.GEN_AI_TOOL_DEFINITIONS] = dumps(definitions)


def response_body(body: Mapping[str, Any], out: Translated) -> None:
    """Response facts and output content from an Anthropic Message body (OpenInference's `output.value`)."""
    if sc.GEN_AI_RESPONSE_ID not in out and coerce.text(body.get("id")):
        out[sc.GEN_AI_RESPONSE_ID] = body["id"]
    if sc.GEN_AI_RESPONSE_MODEL not in out and coerce.text(body.get("model")):
        out[sc.GEN_AI_RESPONSE_MODEL] = body["model"]
    stop_reason = coerce.text(body.get("stop_reason"))
    if stop_reason:
        out.setdefault(anthropic_contract.STOP_REASON, stop_reason)
        out.setdefault(sc.GEN_AI_RESPONSE_FINISH_REASONS, finish_reasons([stop_reason]))
    usage = body.get("usage")
    if isinstance(usage, Mapping):
        usage_from_anthropic(usage, out)
    if sc.GEN_AI_OUTPUT_MESSAGES not in out and "content" in body:
        out[sc.GEN_AI_OUTPUT_MESSAGES] = dumps(messages.output_messages(body))


def usage_from_anthropic(usage: Mapping[str, Any], out: Translated) -> None:
    """Token counts, server tool requests, tier and speed from an Anthropic `usage` object (the contract's usage →
    tokens rule), where the span did not say them already. A count the span said is the peer's reading of the
    top-level usage, which leaves compaction iterations out: their tokens are added to it, once."""
    read = anthropic_contract.read_usage(usage)
    if read is None:
        return
    said: dict[str, Any] = {}
    anthropic_contract.usage_attributes(read, said)
    top_level = said
    if usage.get("iterations"):
        without = anthropic_contract.read_usage({key: value for key, value in usage.items() if key != "iterations"})
        top_level = {}
        if without is not None:
            anthropic_contract.usage_attributes(without, top_level)
    for key, value in said.items():
        peer = out.get(key)
        if peer is None:
            out[key] = value
        elif type(peer) is int and type(value) is int:
            out[key] = peer + value - int(top_level.get(key, 0))
