"""The Anthropic SDK's own spans (1.14+, scope `com.anthropic.sdk.python`): only the model methods are calls.

The SDK writes input + cache read + cache write and the stop reason (no finish reasons); its batch and truncation
attributes have their own names. It leaves compaction iterations out of its token counts and writes their sums apart
(`anthropic.usage.compaction.input_tokens`, input + cache read + cache write, and `…output_tokens`): they are added
to the counts, the compaction's input as uncached input (the SDK does not say how much of it was cached)."""

from __future__ import annotations

from typing import Final

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import coerce
from tokentrail.contract import semconv as sc
from tokentrail.sink.peers import _common as common
from tokentrail.sink.peers._common import Attributes, Translated

__all__ = ["SOURCE", "claims", "resembles", "translate"]

SOURCE: Final = "anthropic-sdk"


def claims(name: str, scope: str, attrs: Attributes) -> bool:
    """By scope: the SDK's tracing scope."""
    return scope == anthropic_contract.SDK_NATIVE_SCOPE


def resembles(attrs: Attributes) -> bool:
    """No shape test: the SDK's spans always carry its scope."""
    return False


# The SDK's native span names that are LLM calls, with their operation.
_NATIVE_OPERATIONS: Final = {
    "anthropic.messages.create": sc.OP_CHAT,
    "anthropic.beta.messages.create": sc.OP_CHAT,
    "anthropic.messages.count_tokens": sc.OP_COUNT_TOKENS,
    "anthropic.beta.messages.count_tokens": sc.OP_COUNT_TOKENS,
    "anthropic.messages.batches.create": sc.OP_BATCH_CREATE,
    "anthropic.messages.batches.retrieve": sc.OP_BATCH_RETRIEVE,
    "anthropic.messages.batches.results": sc.OP_BATCH_RESULTS,
    "anthropic.beta.messages.batches.create": sc.OP_BATCH_CREATE,
    "anthropic.beta.messages.batches.retrieve": sc.OP_BATCH_RETRIEVE,
    "anthropic.beta.messages.batches.results": sc.OP_BATCH_RESULTS,
}


def translate(name: str, attrs: Attributes) -> Translated | None:
    """The span in the contract, or `None` for a span that is not a call of its own."""
    operation = _NATIVE_OPERATIONS.get(name)
    if operation is None:
        return None  # the SDK traces every API method; only the model calls are LLM calls
    out: Translated = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: anthropic_contract.PROVIDER}
    common.copy_semconv(attrs, out)
    out[sc.GEN_AI_OPERATION_NAME] = operation
    stop_reason = out.get(anthropic_contract.STOP_REASON)
    if isinstance(stop_reason, str) and sc.GEN_AI_RESPONSE_FINISH_REASONS not in out:
        out[sc.GEN_AI_RESPONSE_FINISH_REASONS] = common.finish_reasons([stop_reason])
    consumed = {"anthropic.content.truncated", "anthropic.message.batch.id", "anthropic.message.batch.request_count"}
    if coerce.flag(attrs.get("anthropic.content.truncated")):
        out[sc.CONTENT_TRUNCATED] = True
    batch_id = coerce.text(attrs.get("anthropic.message.batch.id"))
    if batch_id:
        out[anthropic_contract.BATCH_ID] = batch_id
    request_count = coerce.integer(attrs.get("anthropic.message.batch.request_count"))
    if request_count is not None:
        out[anthropic_contract.BATCH_REQUEST_COUNT] = request_count
    # Every SDK generation with tracing (1.14+) writes input + cache read + cache write; the check only guards.
    common.normalise_input_tokens(out, excludes_cache=False)
    for key, counted in _COMPACTION:
        consumed.add(key)
        extra = coerce.integer(attrs.get(key))
        if extra and isinstance(out.get(counted), int):
            out[counted] += extra
    return common.finish(attrs, out, consumed)


# The SDK's sums of the compaction iterations, and the counts they are billed in.
_COMPACTION: Final = (
    ("anthropic.usage.compaction.input_tokens", sc.GEN_AI_USAGE_INPUT_TOKENS),
    ("anthropic.usage.compaction.output_tokens", sc.GEN_AI_USAGE_OUTPUT_TOKENS),
)
