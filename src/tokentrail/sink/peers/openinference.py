"""OpenInference (Arize): `llm.*` names, `openinference.span.kind`, flattened messages and the raw request and
response bodies (`input.value`, `output.value`); `llm.token_count.prompt` includes the cache."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import coerce
from tokentrail.contract import semconv as sc
from tokentrail.sink.peers import _common as common
from tokentrail.sink.peers import _content as blocks
from tokentrail.sink.peers._common import Attributes, Translated

__all__ = ["SOURCE", "claims", "resembles", "translate"]

SOURCE: Final = "openinference"


def claims(name: str, scope: str, attrs: Attributes) -> bool:
    """By scope: `openinference.*`."""
    return scope.startswith("openinference.")


def resembles(attrs: Attributes) -> bool:
    """By shape: `openinference.span.kind`."""
    return "openinference.span.kind" in attrs


_TOKENS: Final = (
    ("llm.token_count.prompt", sc.GEN_AI_USAGE_INPUT_TOKENS),
    ("llm.token_count.completion", sc.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("llm.token_count.prompt_details.cache_read", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("llm.token_count.prompt_details.cache_write", sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
    ("llm.token_count.completion_details.reasoning", sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
)
_PARAMS: Final = (
    ("max_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS, coerce.integer),
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE, coerce.real),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P, coerce.real),
    ("top_k", sc.GEN_AI_REQUEST_TOP_K, coerce.integer),
    ("stop_sequences", sc.GEN_AI_REQUEST_STOP_SEQUENCES, coerce.strings),
    ("stream", sc.GEN_AI_REQUEST_STREAM, coerce.flag),
)


def translate(name: str, attrs: Attributes) -> Translated | None:
    """The span in the contract, or `None` for a span that is not a call of its own."""
    kind = attrs.get("openinference.span.kind")
    if kind is not None and str(kind).upper() != "LLM":
        return None  # CHAIN, AGENT, TOOL, RETRIEVER, EMBEDDING ... spans are not model calls
    consumed: set[str] = {
        "openinference.span.kind",
        "llm.provider",
        "llm.system",
        "llm.model_name",
        "llm.request.model_name",
        "llm.response.model_name",
        "llm.invocation_parameters",
        "llm.finish_reason",
        "llm.token_count.total",
        "input.value",
        "input.mime_type",
        "output.value",
        "output.mime_type",
    }
    out: Translated = {sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT}
    provider = common.provider(attrs, "llm.provider", "llm.system")
    if provider:
        out[sc.GEN_AI_PROVIDER_NAME] = provider
    common.copy_semconv(attrs, out)
    for source_key, contract in _TOKENS:
        consumed.add(source_key)
        count = coerce.integer(attrs.get(source_key))
        if count is not None:
            out[contract] = count

    params = coerce.json_value(attrs.get("llm.invocation_parameters"))
    params = params if isinstance(params, Mapping) else {}
    for field, contract, convert in _PARAMS:
        value = convert(params.get(field))
        if value is not None:
            out.setdefault(contract, value)
    if name.endswith(".stream"):
        out[sc.GEN_AI_REQUEST_STREAM] = True

    request = coerce.json_value(attrs.get("input.value"))
    request = request if isinstance(request, Mapping) else {}
    request_model = common.first(attrs, ("llm.request.model_name",), coerce.text) or coerce.text(params.get("model"))
    request_model = request_model or coerce.text(request.get("model")) or coerce.text(attrs.get("llm.model_name"))
    if request_model:
        out.setdefault(sc.GEN_AI_REQUEST_MODEL, request_model)
    response_model = common.first(attrs, ("llm.response.model_name", "llm.model_name"), coerce.text)
    if response_model:
        out.setdefault(sc.GEN_AI_RESPONSE_MODEL, response_model)
    finish = coerce.text(attrs.get("llm.finish_reason"))
    if finish:
        out.setdefault(anthropic_contract.STOP_REASON, finish)
        out.setdefault(sc.GEN_AI_RESPONSE_FINISH_REASONS, common.finish_reasons([finish]))

    # Content: the flattened messages first, the raw request and response bodies for what they lack.
    inputs = common.indexed(attrs, "llm.input_messages.", consumed)
    if inputs and sc.GEN_AI_INPUT_MESSAGES not in out:
        system: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        for entry in inputs:
            role, parts = _message(entry)
            if role == "system":
                system.extend(parts)
            else:
                messages.append({"role": role, "parts": parts})
        if system:
            out.setdefault(sc.GEN_AI_SYSTEM_INSTRUCTIONS, common.dumps(system))
        out[sc.GEN_AI_INPUT_MESSAGES] = common.dumps(messages)
    outputs = common.indexed(attrs, "llm.output_messages.", consumed)
    if outputs and sc.GEN_AI_OUTPUT_MESSAGES not in out:
        finish_reason = anthropic_contract.finish_reason(finish) if finish else None
        produced = []
        for entry in outputs:
            role, parts = _message(entry)
            message: dict[str, Any] = {"role": role if role != "user" else "assistant", "parts": parts}
            if finish_reason:
                message["finish_reason"] = finish_reason
            produced.append(message)
        out[sc.GEN_AI_OUTPUT_MESSAGES] = common.dumps(produced)
    tools = common.indexed(attrs, "llm.tools.", consumed)
    if tools and sc.GEN_AI_TOOL_DEFINITIONS not in out:
        schemas = (coerce.json_value(tool.get("tool.json_schema")) for tool in tools)
        definitions = [d for d in map(blocks.tool_definition, schemas) if d]
        if definitions:
            out[sc.GEN_AI_TOOL_DEFINITIONS] = common.dumps(definitions)
    if request:
        blocks.request_body_content(request, out)
    response = coerce.json_value(attrs.get("output.value"))
    if isinstance(response, Mapping):
        blocks.response_body(response, out)
    common.normalise_input_tokens(out, excludes_cache=False)
    return common.finish(attrs, out, consumed)


def _message(entry: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """One `llm.{input,output}_messages.N.*` group as (role, parts)."""
    role = coerce.text(entry.get("message.role")) or "user"
    parts: list[dict[str, Any]] = []
    content = entry.get("message.content")
    if isinstance(content, str):
        parts.extend(blocks.parts(content))
    for item in common.indexed(entry, "message.contents."):
        kind = coerce.text(item.get("message_content.type")) or "text"
        if kind == "text":
            parts.append({"type": "text", "content": item.get("message_content.text", "")})
        else:
            parts.append({"type": kind})
    for call in common.indexed(entry, "message.tool_calls."):
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("tool_call.id"),
                "name": call.get("tool_call.function.name"),
                "arguments": common.maybe_json(call.get("tool_call.function.arguments")),
            }
        )
    tool_call_id = coerce.text(entry.get("message.tool_call_id"))
    if tool_call_id and role == "tool":
        text = "".join(str(p.get("content", "")) for p in parts if p.get("type") == "text")
        parts = [{"type": "tool_call_response", "id": tool_call_id, "response": text}]
    return role, parts


# OpenLIT writes these request parameters whether or not the call gave them, with these placeholder values.
