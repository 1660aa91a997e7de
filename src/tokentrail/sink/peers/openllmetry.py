"""OpenLLMetry (traceloop): `anthropic.chat` spans, legacy token names, content as indexed flat attributes
(`gen_ai.prompt.N.*`, `gen_ai.completion.N.*`, `llm.request.functions.N.*`); its input count includes the cache."""

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

SOURCE: Final = "openllmetry"


def claims(name: str, scope: str, attrs: Attributes) -> bool:
    """By scope: OpenLLMetry's package owns `opentelemetry.instrumentation.anthropic` on PyPI; its spans are
    `anthropic.chat` / `anthropic.completion` (the official instrumentation's, under the same scope, are not)."""
    return scope.startswith("opentelemetry.instrumentation.anthropic") and (
        name.startswith("anthropic.") or "llm.request.type" in attrs
    )


def resembles(attrs: Attributes) -> bool:
    """By shape: `llm.request.type` or the indexed prompt / completion attributes."""
    return "llm.request.type" in attrs or "gen_ai.prompt.0.role" in attrs or "gen_ai.completion.0.role" in attrs


_RENAMES: Final = (
    # (legacy names, contract name, converter)
    (("gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens"), sc.GEN_AI_USAGE_INPUT_TOKENS, coerce.integer),
    (("gen_ai.usage.completion_tokens", "llm.usage.completion_tokens"), sc.GEN_AI_USAGE_OUTPUT_TOKENS, coerce.integer),
    (("gen_ai.usage.cache_read_input_tokens",), sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, coerce.integer),
    (("gen_ai.usage.cache_creation_input_tokens",), sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, coerce.integer),
    (("gen_ai.is_streaming", "llm.is_streaming"), sc.GEN_AI_REQUEST_STREAM, coerce.flag),
    (("llm.request.max_tokens",), sc.GEN_AI_REQUEST_MAX_TOKENS, coerce.integer),
    (("llm.temperature", "llm.request.temperature"), sc.GEN_AI_REQUEST_TEMPERATURE, coerce.real),
    (("llm.top_p", "llm.request.top_p"), sc.GEN_AI_REQUEST_TOP_P, coerce.real),
    (("llm.top_k", "llm.request.top_k"), sc.GEN_AI_REQUEST_TOP_K, coerce.integer),
)


def translate(name: str, attrs: Attributes) -> Translated | None:
    """The span in the contract, or `None` for a span that is not a call of its own."""
    consumed: set[str] = {sc.GEN_AI_SYSTEM, "llm.request.type", common.CACHE_CREATION_INPUT_TOKENS}
    operation = common.operation(attrs, None)
    if operation is None:
        # `anthropic.chat`; legacy generations call Messages calls `completion` in llm.request.type
        operation = "text_completion" if name.endswith(".completion") else sc.OP_CHAT
    if operation not in common.CALL_OPERATIONS:
        return None
    out: Translated = {sc.GEN_AI_OPERATION_NAME: operation}
    provider = common.provider(attrs)
    if provider:
        out[sc.GEN_AI_PROVIDER_NAME] = provider
    common.copy_semconv(attrs, out)
    for legacy, contract, convert in _RENAMES:
        consumed.update(legacy)
        if contract not in out:
            value = common.first(attrs, legacy, convert)
            if value is not None:
                out[contract] = value
    consumed.update(("llm.usage.total_tokens", "gen_ai.usage.total_tokens"))

    # Legacy content: gen_ai.prompt.N.{role,content,tool_calls.M.*}, gen_ai.completion.N.{...,finish_reason}.
    prompts = common.indexed(attrs, "gen_ai.prompt.", consumed)
    if prompts and sc.GEN_AI_INPUT_MESSAGES not in out:
        system: list[dict[str, Any]] = []
        inputs: list[dict[str, Any]] = []
        for prompt in prompts:
            role = coerce.text(prompt.get("role")) or "user"
            parts = blocks.parts(prompt.get("content")) + _flat_tool_calls(prompt)
            if role == "system":
                system.extend(parts)
            else:
                inputs.append({"role": role, "parts": parts})
        if system and sc.GEN_AI_SYSTEM_INSTRUCTIONS not in out:
            out[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = common.dumps(system)
        out[sc.GEN_AI_INPUT_MESSAGES] = common.dumps(inputs)
    completions = common.indexed(attrs, "gen_ai.completion.", consumed)
    if completions:
        reasons: list[str] = []
        outputs: list[dict[str, Any]] = []
        for completion in completions:
            message: dict[str, Any] = {
                "role": coerce.text(completion.get("role")) or "assistant",
                "parts": blocks.parts(completion.get("content")) + _flat_tool_calls(completion),
            }
            reason = coerce.text(completion.get("finish_reason"))
            if reason:
                mapped = anthropic_contract.finish_reason(reason)
                message["finish_reason"] = mapped
                reasons.append(reason)
            outputs.append(message)
        out.setdefault(sc.GEN_AI_OUTPUT_MESSAGES, common.dumps(outputs))
        if reasons:
            out.setdefault(anthropic_contract.STOP_REASON, reasons[0])
            out.setdefault(sc.GEN_AI_RESPONSE_FINISH_REASONS, common.finish_reasons(reasons))
    functions = common.indexed(attrs, "llm.request.functions.", consumed)
    if functions and sc.GEN_AI_TOOL_DEFINITIONS not in out:
        definitions = [d for d in map(blocks.tool_definition, functions) if d is not None]
        if definitions:
            out[sc.GEN_AI_TOOL_DEFINITIONS] = common.dumps(definitions)
    common.normalise_input_tokens(out, excludes_cache=False)
    return common.finish(attrs, out, consumed)


def _flat_tool_calls(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """OpenLLMetry's `tool_calls.M.{id,name,arguments}` under one indexed message, as tool_call parts."""
    calls = common.indexed(message, "tool_calls.")
    return [
        {
            "type": "tool_call",
            "id": call.get("id"),
            "name": call.get("name"),
            "arguments": common.maybe_json(call.get("arguments")),
        }
        for call in calls
    ]
