"""logfire (Pydantic): semconv names, the raw usage in `gen_ai.usage.raw`, its own cost; a streaming call is the
`streaming response ...` log written when the stream ends, not the span around the request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from tokentrail.contract import coerce
from tokentrail.contract import semconv as sc
from tokentrail.sink.peers import _common as common
from tokentrail.sink.peers import _content as blocks
from tokentrail.sink.peers._common import Attributes, Translated

__all__ = ["SOURCE", "claims", "resembles", "translate"]

SOURCE: Final = "logfire"


def claims(name: str, scope: str, attrs: Attributes) -> bool:
    """By scope: `logfire*`."""
    return scope.startswith("logfire")


def resembles(attrs: Attributes) -> bool:
    """No shape test: logfire's spans keep their scope."""
    return False


_ERROR_LEVEL: Final = 17  # logfire's level number for `error`


def translate(name: str, attrs: Attributes) -> Translated | None:
    """The span in the contract, or `None` for a span that is not a call of its own."""
    operation = common.operation(attrs, None)
    if operation is None or operation not in common.CALL_OPERATIONS:
        return None
    is_log = attrs.get("logfire.span_type") == "log"
    has_response = any(
        key in attrs
        for key in (sc.GEN_AI_RESPONSE_ID, sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_OUTPUT_MESSAGES, "gen_ai.usage.raw")
    )
    level = coerce.integer(attrs.get("logfire.level_num"))
    failed = level is not None and level >= _ERROR_LEVEL
    if not is_log and not has_response and not failed:
        # The span around a streaming request ends when the stream is handed back; logfire records the call
        # (output, usage) in the `streaming response ...` log it writes when the stream ends.
        return None
    out: Translated = {sc.GEN_AI_OPERATION_NAME: operation}
    provider = common.provider(attrs)
    if provider:
        out[sc.GEN_AI_PROVIDER_NAME] = provider
    common.copy_semconv(attrs, out)
    if is_log:
        out[sc.GEN_AI_REQUEST_STREAM] = True
        if out.get(sc.GEN_AI_RESPONSE_MODEL) == out.get(sc.GEN_AI_REQUEST_MODEL):
            out.pop(sc.GEN_AI_RESPONSE_MODEL, None)  # logfire's export-time default, not the response's model
    elif not has_response:
        out.pop(sc.GEN_AI_RESPONSE_MODEL, None)  # logfire defaults it to the request model on export
    consumed = {
        sc.GEN_AI_SYSTEM,
        common.CACHE_CREATION_INPUT_TOKENS,
        "gen_ai.usage.raw",
        "operation.cost",
        "logfire.json_schema",
    }
    raw = coerce.json_value(attrs.get("gen_ai.usage.raw"))
    if isinstance(raw, Mapping):
        blocks.usage_from_anthropic(raw, out)
    cost = coerce.real(attrs.get("operation.cost"))
    if cost is not None:
        out.setdefault(sc.COST_USD, cost)
        out.setdefault(sc.COST_SOURCE, SOURCE)
    if failed:
        out.setdefault(sc.ERROR_TYPE, "_OTHER")  # logfire keeps the exception in an event, not in an attribute
    common.normalise_input_tokens(out, excludes_cache=False)
    return common.finish(attrs, out, consumed)
