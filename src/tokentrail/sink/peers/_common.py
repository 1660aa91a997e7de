"""What every peer translator shares: the contract's copied names, indexed flat attributes, the last step.

Each translator builds its output dict from the span's attributes (`copy_semconv` for the names a semconv-following
span shares with the contract), marks the raw attributes it translated as consumed, and ends with `finish`, which
passes every other attribute through unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import coerce
from tokentrail.contract import semconv as sc

__all__ = [
    "CACHE_CREATION_INPUT_TOKENS",
    "CALL_OPERATIONS",
    "NOT_CALL_OPERATIONS",
    "Attributes",
    "Translated",
    "content_json",
    "copy_semconv",
    "dumps",
    "finish",
    "finish_reasons",
    "first",
    "indexed",
    "maybe_json",
    "normalise_input_tokens",
    "operation",
    "provider",
]

Attributes = Mapping[str, Any]
Translated = dict[str, Any]

# Operations that are one call to a model API. Agent, workflow and tool spans are GenAI spans, but not calls.
CALL_OPERATIONS: Final = frozenset(
    {
        sc.OP_CHAT,
        "text_completion",
        "generate_content",
        "embeddings",
        sc.OP_COUNT_TOKENS,
        sc.OP_BATCH_CREATE,
        sc.OP_BATCH_RETRIEVE,
        sc.OP_BATCH_RESULTS,
    }
)
NOT_CALL_OPERATIONS: Final = frozenset(
    {sc.OP_EXECUTE_TOOL, sc.OP_INVOKE_WORKFLOW, "invoke_agent", "create_agent", "invoke_workflow"}
)


# Semconv attributes copied with their type normalised.
_STR_KEYS: Final = (
    sc.GEN_AI_REQUEST_MODEL,
    sc.GEN_AI_RESPONSE_MODEL,
    sc.GEN_AI_RESPONSE_ID,
    sc.SERVER_ADDRESS,
    sc.ERROR_TYPE,
    sc.GEN_AI_CONVERSATION_ID,
    sc.GEN_AI_OUTPUT_TYPE,
    sc.USER_ID,
    sc.SESSION_ID,
    anthropic_contract.REQUEST_ID,
    anthropic_contract.SERVICE_TIER,
    anthropic_contract.SPEED,
    anthropic_contract.STOP_REASON,
    sc.WORKFLOW_NAME,
)
_INT_KEYS: Final = (
    sc.GEN_AI_REQUEST_MAX_TOKENS,
    sc.GEN_AI_REQUEST_TOP_K,
    sc.GEN_AI_REQUEST_CHOICE_COUNT,
    sc.SERVER_PORT,
    sc.GEN_AI_USAGE_INPUT_TOKENS,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    anthropic_contract.CACHE_WRITE_5M,
    anthropic_contract.CACHE_WRITE_1H,
    anthropic_contract.THINKING_BUDGET,
    anthropic_contract.WEB_SEARCH_REQUESTS,
    anthropic_contract.WEB_FETCH_REQUESTS,
)
_FLOAT_KEYS: Final = (sc.GEN_AI_REQUEST_TEMPERATURE, sc.GEN_AI_REQUEST_TOP_P, sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
_CONTENT_KEYS: Final = (
    sc.GEN_AI_SYSTEM_INSTRUCTIONS,
    sc.GEN_AI_INPUT_MESSAGES,
    sc.GEN_AI_OUTPUT_MESSAGES,
    sc.GEN_AI_TOOL_DEFINITIONS,
)
# Cache-write tokens under the name that OpenLLMetry, OpenLIT and logfire use (the semconv draft's first name).
CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
# The contract names that translation sets with checked types. A peer's value under one of these names is kept
# only through translation, never passed through raw (it may mean something else, or be of another type).
_TRANSLATED_NAMES: Final = frozenset(
    (
        *_STR_KEYS,
        *_INT_KEYS,
        *_FLOAT_KEYS,
        *_CONTENT_KEYS,
        sc.GEN_AI_OPERATION_NAME,
        sc.GEN_AI_PROVIDER_NAME,
        sc.GEN_AI_SYSTEM,
        sc.GEN_AI_REQUEST_STREAM,
        sc.GEN_AI_REQUEST_STOP_SEQUENCES,
        sc.GEN_AI_RESPONSE_FINISH_REASONS,
        sc.COST_USD,
        sc.COST_SOURCE,
        sc.CONTENT_TRUNCATED,
        anthropic_contract.BATCH_ID,
        anthropic_contract.BATCH_REQUEST_COUNT,
    )
)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def content_json(value: Any) -> str | None:
    """A content attribute as a JSON string: a string is kept as it is, a structure is serialised."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, (list, tuple, dict)):
        return dumps(value)
    return None


def finish_reasons(values: Iterable[str]) -> list[str]:
    """Anthropic stop reasons mapped onto semconv finish reasons; semconv values kept as they are."""
    return [anthropic_contract.finish_reason(value) for value in values]


def indexed(attrs: Attributes, prefix: str, consumed: set[str] | None = None) -> list[dict[str, Any]]:
    """Flat indexed attributes `{prefix}{N}.{rest}` grouped into one dict per N, in index order."""
    groups: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        index, _, rest = key[len(prefix) :].partition(".")
        if not (index.isascii() and index.isdigit() and rest):
            continue
        groups.setdefault(int(index), {})[rest] = value
        if consumed is not None:
            consumed.add(key)
    return [groups[index] for index in sorted(groups)]


def first(attrs: Attributes, keys: Iterable[str], convert: Callable[[Any], Any]) -> Any:
    for key in keys:
        if key in attrs:
            value = convert(attrs[key])
            if value is not None:
                return value
    return None


def maybe_json(value: Any) -> Any:
    decoded = coerce.json_value(value)
    return value if decoded is None else decoded


def copy_semconv(attrs: Attributes, out: Translated) -> None:
    """Copy the contract attributes that a semconv-following span carries, with their types normalised."""
    for key in _STR_KEYS:
        value = coerce.text(attrs.get(key))
        if value is not None:
            out[key] = value
    for key in _INT_KEYS:
        number = coerce.integer(attrs.get(key))
        if number is not None:
            out[key] = number
    for key in _FLOAT_KEYS:
        real = coerce.real(attrs.get(key))
        if real is not None:
            out[key] = real
    stream = coerce.flag(attrs.get(sc.GEN_AI_REQUEST_STREAM))
    if stream is not None:
        out[sc.GEN_AI_REQUEST_STREAM] = stream
    stops = coerce.strings(attrs.get(sc.GEN_AI_REQUEST_STOP_SEQUENCES))
    if stops:
        out[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = stops
    reasons = coerce.strings(attrs.get(sc.GEN_AI_RESPONSE_FINISH_REASONS))
    if reasons:
        out[sc.GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons(reasons)
    for key in _CONTENT_KEYS:
        content = content_json(attrs.get(key))
        if content is not None:
            out[key] = content
    if sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS not in out:
        creation = coerce.integer(attrs.get(CACHE_CREATION_INPUT_TOKENS))
        if creation is not None:
            out[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = creation
    cost = coerce.real(attrs.get(sc.COST_USD))
    if cost is not None:
        out[sc.COST_USD] = cost
    cost_source = coerce.text(attrs.get(sc.COST_SOURCE))
    if cost_source:
        out[sc.COST_SOURCE] = cost_source


def provider(attrs: Attributes, *keys: str) -> str | None:
    value = first(attrs, (sc.GEN_AI_PROVIDER_NAME, *keys, sc.GEN_AI_SYSTEM), coerce.text)
    return value.strip().lower() if isinstance(value, str) else None


def normalise_input_tokens(out: Translated, *, excludes_cache: bool) -> None:
    """Make `gen_ai.usage.input_tokens` input + cache read + cache write.

    `excludes_cache` is for a source known to count only the uncached input. For the others, a count below the
    cache tokens can only be one that leaves them out (an older generation of the peer), and is corrected.
    """
    total = out.get(sc.GEN_AI_USAGE_INPUT_TOKENS)
    if not isinstance(total, int):
        return
    cache_read = int(out.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) or 0)
    cache_write = int(out.get(sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS) or 0)
    if excludes_cache or total < cache_read + cache_write:
        out[sc.GEN_AI_USAGE_INPUT_TOKENS] = anthropic_contract.total_input(total, cache_read, cache_write)


def finish(attrs: Attributes, out: Translated, consumed: set[str]) -> Translated:
    """Add the attributes that were not translated, as they are, and check the call has an operation."""
    for key, value in attrs.items():
        if key not in out and key not in consumed and key not in _TRANSLATED_NAMES:
            out[key] = value
    out.setdefault(sc.GEN_AI_OPERATION_NAME, sc.OP_CHAT)
    return out


def operation(attrs: Attributes, default: str | None) -> str | None:
    operation = coerce.text(attrs.get(sc.GEN_AI_OPERATION_NAME))
    return operation.strip().lower() if operation else default
