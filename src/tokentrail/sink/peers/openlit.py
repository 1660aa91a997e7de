"""OpenLIT: semconv names with placeholders for parameters not given, a zero cost for no price, the system prompt
repeated as an input message, and input tokens WITHOUT the cache (added here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from tokentrail.contract import coerce
from tokentrail.contract import semconv as sc
from tokentrail.sink.peers import _common as common
from tokentrail.sink.peers._common import Attributes, Translated

__all__ = ["SOURCE", "claims", "resembles", "translate"]

SOURCE: Final = "openlit"


def claims(name: str, scope: str, attrs: Attributes) -> bool:
    """By scope `openlit*`, or its SDK name among the attributes."""
    return scope.startswith("openlit") or attrs.get("telemetry.sdk.name") == "openlit"


def resembles(attrs: Attributes) -> bool:
    """No shape test beyond `claims`."""
    return False


_PLACEHOLDERS: Final = {
    sc.GEN_AI_REQUEST_TEMPERATURE: 1.0,
    sc.GEN_AI_REQUEST_TOP_P: 1.0,
    sc.GEN_AI_REQUEST_TOP_K: 1,
}


def translate(name: str, attrs: Attributes) -> Translated | None:
    """The span in the contract, or `None` for a span that is not a call of its own."""
    operation = common.operation(attrs, None)
    named_operation, _, named_model = name.partition(" ")
    if operation is None:
        # A failed call's span has no attributes at all, only its `{operation} {model}` name and ERROR status.
        operation = named_operation
    if operation not in common.CALL_OPERATIONS:
        return None
    out: Translated = {sc.GEN_AI_OPERATION_NAME: operation}
    if named_model and operation == named_operation:
        out[sc.GEN_AI_REQUEST_MODEL] = named_model
    provider = common.provider(attrs)
    if provider:
        out[sc.GEN_AI_PROVIDER_NAME] = provider
    common.copy_semconv(attrs, out)
    if sc.GEN_AI_SYSTEM_INSTRUCTIONS in out:
        _drop_system_messages(out)  # OpenLIT repeats the system prompt as the first input message
    for key, placeholder in _PLACEHOLDERS.items():
        if out.get(key) == placeholder:
            del out[key]  # indistinguishable from "not given": the contract never records placeholders
    consumed = {
        sc.GEN_AI_SYSTEM,
        common.CACHE_CREATION_INPUT_TOKENS,
        "gen_ai.server.time_to_first_token",
        "gen_ai.client.token.usage",
        "telemetry.sdk.name",
    }
    if out.get(sc.GEN_AI_REQUEST_STREAM):
        ttfc = coerce.real(attrs.get("gen_ai.server.time_to_first_token"))
        if ttfc is not None:
            out.setdefault(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttfc)
    cost = out.get(sc.COST_USD)
    if isinstance(cost, float) and cost > 0:
        out.setdefault(sc.COST_SOURCE, SOURCE)
    else:
        out.pop(sc.COST_USD, None)  # OpenLIT writes 0 when it has no price: unknown, not free
    # OpenLIT (1.x) counts only the uncached input in gen_ai.usage.input_tokens.
    common.normalise_input_tokens(out, excludes_cache=True)
    return common.finish(attrs, out, consumed)


def _drop_system_messages(out: Translated) -> None:
    """Remove system-role messages from the input messages (they belong in the system instructions)."""
    text = out.get(sc.GEN_AI_INPUT_MESSAGES)
    if not isinstance(text, str) or '"system"' not in text:
        return
    messages = coerce.json_value(text)
    if isinstance(messages, list):
        kept = [m for m in messages if not (isinstance(m, Mapping) and m.get("role") == "system")]
        if len(kept) != len(messages):
            out[sc.GEN_AI_INPUT_MESSAGES] = common.dumps(kept)
