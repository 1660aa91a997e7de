"""Spans that follow the GenAI semantic conventions: the official genai-anthropic instrumentation, and any other.

Checked after OpenLLMetry, which shares the scope prefix `opentelemetry.instrumentation.anthropic` (the official
instrumentation once used it, with `{operation} {model}` span names)."""

from __future__ import annotations

from typing import Final

from tokentrail.contract import semconv as sc
from tokentrail.sink.peers import _common as common
from tokentrail.sink.peers._common import Attributes, Translated

__all__ = ["SOURCE", "claims", "resembles", "translate"]

SOURCE: Final = "otel-genai"


def claims(name: str, scope: str, attrs: Attributes) -> bool:
    """By scope: `opentelemetry.instrumentation.genai.*`, or the shared anthropic scope once OpenLLMetry declined."""
    return scope.startswith("opentelemetry.instrumentation.genai.") or scope.startswith(
        "opentelemetry.instrumentation.anthropic"
    )


def resembles(attrs: Attributes) -> bool:
    """By shape: an operation and a provider (or the older `gen_ai.system`)."""
    return sc.GEN_AI_OPERATION_NAME in attrs and (sc.GEN_AI_PROVIDER_NAME in attrs or sc.GEN_AI_SYSTEM in attrs)


def translate(name: str, attrs: Attributes) -> Translated | None:
    """The span in the contract, or `None` for a span that is not a call of its own."""
    operation = common.operation(attrs, None)
    if operation is None or operation not in common.CALL_OPERATIONS:
        return None
    out: Translated = {sc.GEN_AI_OPERATION_NAME: operation}
    provider = common.provider(attrs)
    if provider:
        out[sc.GEN_AI_PROVIDER_NAME] = provider
    common.copy_semconv(attrs, out)
    common.normalise_input_tokens(out, excludes_cache=False)
    return common.finish(attrs, out, {sc.GEN_AI_SYSTEM, common.CACHE_CREATION_INPUT_TOKENS})
