"""Peer interop: GenAI spans from other instrumentations, translated into tokentrail's span contract.

The sink stores every span, and turns the LLM calls among them into `llm_calls` rows. Spans that tokentrail
wrote already follow the contract in `tokentrail.contract.semconv`; the spans of the Anthropic SDK's own tracing
and of the peer instrumentations carry the same facts under other names, with other token semantics, or both.
`to_contract` recognises them and translates them, so that every source lands in the same columns:

| source          | recognised by (scope, then shape)                         | input token semantics seen        |
|-----------------|-----------------------------------------------------------|-----------------------------------|
| `tokentrail`    | scope `tokentrail.instrumentation.anthropic`              | contract (returned as-is)         |
| `anthropic-sdk` | scope `com.anthropic.sdk.python`, `anthropic.messages.*`  | input + cache read + cache write  |
| `openllmetry`   | scope `opentelemetry.instrumentation.anthropic`, span     | prompt/input total incl. cache    |
|                 | `anthropic.*`; `gen_ai.prompt.N.*`, `llm.request.type`    |                                   |
| `openinference` | scope `openinference.*`; `openinference.span.kind`=`LLM`  | `llm.token_count.prompt` incl.    |
| `otel-genai`    | scope `opentelemetry.instrumentation.genai.*`; any other  | semconv (incl. cache)             |
|                 | scope whose span follows the GenAI semantic conventions   |                                   |
| `openlit`       | scope `openlit.*` or `telemetry.sdk.name` = `openlit`     | input WITHOUT cache (added here)  |
| `logfire`       | scope `logfire.*`                                         | input + cache read + cache write  |

Every output follows the contract: `gen_ai.usage.input_tokens` is input + cache read + cache write.
Where a peer's generation is unknown, an input count below cache read + cache write can only be one that leaves
the cache out, and is corrected; any other is taken as the total, which every current peer except OpenLIT writes.

Content becomes the semconv JSON message schema (`gen_ai.system_instructions`, `gen_ai.input.messages`,
`gen_ai.output.messages`, `gen_ai.tool.definitions`), whatever shape the peer used (indexed flat attributes,
raw request bodies, JSON strings). Attributes that were not translated pass through unchanged, except the raw
forms of content and usage that were translated (so content is stored once) and names that belong to the
contract (so a peer's differently-defined value never masquerades as ours).

`None` means "not an LLM call" and is deliberate for spans that look like one but are not a call of their own:
logfire's span around a streaming request ends when the stream is handed back, and the call (output, usage) is in
the `streaming response ...` log logfire writes when the stream ends; agent, workflow and tool spans; the SDK's
spans of non-model methods. `to_contract` is total: it never raises, whatever the attribute values are.

Checked against the real spans of anthropic 2.12 (native), OpenLLMetry 0.62.4 and 0.47.5, OpenInference 3.1.0,
opentelemetry-instrumentation-genai-anthropic 1.3b0, OpenLIT 1.45.0 and logfire 5.2 (tests/sink/test_interop*.py).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv as sc

__all__ = [
    "SOURCE_ANTHROPIC_SDK",
    "SOURCE_LOGFIRE",
    "SOURCE_OPENINFERENCE",
    "SOURCE_OPENLIT",
    "SOURCE_OPENLLMETRY",
    "SOURCE_OTEL_GENAI",
    "SOURCE_TOKENTRAIL",
    "SOURCES",
    "to_contract",
]

log = logging.getLogger(__name__)

SOURCE_TOKENTRAIL: Final = "tokentrail"
SOURCE_ANTHROPIC_SDK: Final = "anthropic-sdk"
SOURCE_OPENLLMETRY: Final = "openllmetry"
SOURCE_OPENINFERENCE: Final = "openinference"
SOURCE_OTEL_GENAI: Final = "otel-genai"
SOURCE_OPENLIT: Final = "openlit"
SOURCE_LOGFIRE: Final = "logfire"
SOURCES: Final = (
    SOURCE_TOKENTRAIL,
    SOURCE_ANTHROPIC_SDK,
    SOURCE_OPENLLMETRY,
    SOURCE_OPENINFERENCE,
    SOURCE_OTEL_GENAI,
    SOURCE_OPENLIT,
    SOURCE_LOGFIRE,
)

Attributes = Mapping[str, Any]
Translated = dict[str, Any]

# Operations that are one call to a model API. Agent, workflow and tool spans are GenAI spans, but not calls.
_CALL_OPERATIONS: Final = frozenset(
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
_NOT_CALL_OPERATIONS: Final = frozenset(
    {sc.OP_EXECUTE_TOOL, sc.OP_INVOKE_WORKFLOW, "invoke_agent", "create_agent", "invoke_workflow"}
)

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
)
_FLOAT_KEYS: Final = (sc.GEN_AI_REQUEST_TEMPERATURE, sc.GEN_AI_REQUEST_TOP_P, sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
_CONTENT_KEYS: Final = (
    sc.GEN_AI_SYSTEM_INSTRUCTIONS,
    sc.GEN_AI_INPUT_MESSAGES,
    sc.GEN_AI_OUTPUT_MESSAGES,
    sc.GEN_AI_TOOL_DEFINITIONS,
)
# Cache-write tokens under the name that OpenLLMetry, OpenLIT and logfire use (the semconv draft's first name).
_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
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


# --- entry point ------------------------------------------------------------------------------------------


def to_contract(name: str, scope_name: str | None, attributes: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Recognise an LLM call span from any known instrumentation and translate it into the contract.

    Returns `(source, attributes)`, with attribute names from `tokentrail.contract.semconv` and `source` one of
    `SOURCES`, or `None` for a span that is not an LLM call (HTTP spans, agent and tool spans, a stream's opening
    span whose call another span records). Never raises.
    """
    try:
        scope = scope_name if isinstance(scope_name, str) else ""
        span_name = name if isinstance(name, str) else ""
        attrs: object = attributes  # callers decode attributes from the wire: check, never trust, the type
        if not isinstance(attrs, Mapping):
            return None
        source = _detect(span_name, scope, attrs)
        if source is None:
            return None
        translated = _TRANSLATORS[source](span_name, attrs)
        return None if translated is None else (source, translated)
    except Exception:
        log.debug("could not translate span %r of scope %r", name, scope_name, exc_info=True)
        return None


def _detect(name: str, scope: str, attrs: Attributes) -> str | None:
    if scope == anthropic_contract.INSTRUMENTATION_SCOPE:
        return SOURCE_TOKENTRAIL
    if scope == anthropic_contract.SDK_NATIVE_SCOPE:
        return SOURCE_ANTHROPIC_SDK
    if scope.startswith("opentelemetry.instrumentation.genai."):
        return SOURCE_OTEL_GENAI
    if scope.startswith("opentelemetry.instrumentation.anthropic"):
        # OpenLLMetry's package owns this name on PyPI; its spans are `anthropic.chat` / `anthropic.completion`.
        # The official instrumentation once used the same scope, with `{operation} {model}` span names.
        return SOURCE_OPENLLMETRY if name.startswith("anthropic.") or "llm.request.type" in attrs else SOURCE_OTEL_GENAI
    if scope.startswith("openinference."):
        return SOURCE_OPENINFERENCE
    if scope.startswith("openlit") or attrs.get("telemetry.sdk.name") == "openlit":
        return SOURCE_OPENLIT
    if scope.startswith("logfire"):
        return SOURCE_LOGFIRE
    # No known scope (a collector may drop it, or a wrapper re-emits the span): judge by shape.
    if "openinference.span.kind" in attrs:
        return SOURCE_OPENINFERENCE
    if "llm.request.type" in attrs or "gen_ai.prompt.0.role" in attrs or "gen_ai.completion.0.role" in attrs:
        return SOURCE_OPENLLMETRY
    if sc.GEN_AI_OPERATION_NAME in attrs and (sc.GEN_AI_PROVIDER_NAME in attrs or sc.GEN_AI_SYSTEM in attrs):
        return SOURCE_OTEL_GENAI
    return None


# --- value coercion (total: odd input gives None, never an exception) -----------------------------------------


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] == "-" else text
        if digits.isascii() and digits.isdigit() and len(digits) < 20:
            return int(text)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if not isinstance(value, (int, float)) and not (isinstance(value, str) and len(value) < 40):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"true", "1"}:
            return True
        if text in {"false", "0"}:
            return False
    return None


def _json(value: Any) -> Any:
    """A JSON string decoded, a value that is already structured as it is, anything else `None`."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in {"[", "{", '"'}:
            try:
                return json.loads(text)
            except ValueError:
                return None
        return None
    if isinstance(value, (list, tuple, dict)):
        return value
    return None


def _str_list(value: Any) -> list[str] | None:
    """A list of strings from a sequence, a JSON array string, or a single string."""
    if isinstance(value, str):
        decoded = _json(value) if value.lstrip().startswith("[") else None
        if isinstance(decoded, list):
            value = decoded
        else:
            return [value] if value else None
    if isinstance(value, (list, tuple)):
        items = [item for item in value if isinstance(item, str)]
        return items or None
    return None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _content_json(value: Any) -> str | None:
    """A content attribute as a JSON string: a string is kept as it is, a structure is serialised."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, (list, tuple, dict)):
        return _dumps(value)
    return None


def _finish_reasons(values: Iterable[str]) -> list[str]:
    """Anthropic stop reasons mapped onto semconv finish reasons; semconv values kept as they are."""
    return [anthropic_contract.STOP_REASON_TO_FINISH.get(value, value) for value in values]


def _indexed(attrs: Attributes, prefix: str, consumed: set[str] | None = None) -> list[dict[str, Any]]:
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


def _first(attrs: Attributes, keys: Iterable[str], convert: Callable[[Any], Any]) -> Any:
    for key in keys:
        if key in attrs:
            value = convert(attrs[key])
            if value is not None:
                return value
    return None


# --- content: Anthropic blocks and peer shapes into the semconv message schema -----------------------------------


def _block_part(block: Any) -> dict[str, Any] | None:
    """One Anthropic content block (a dict) as a semconv message part."""
    if isinstance(block, str):
        return {"type": "text", "content": block}
    if not isinstance(block, Mapping):
        return None
    kind = block.get("type")
    if kind == "text" or (kind is None and "text" in block):
        return {"type": "text", "content": block.get("text", "")}
    if kind in {"tool_use", "server_tool_use", "mcp_tool_use"}:
        return {"type": "tool_call", "id": block.get("id"), "name": block.get("name"), "arguments": block.get("input")}
    if kind == "tool_result" or (isinstance(kind, str) and kind.endswith("_tool_result")):
        return {"type": "tool_call_response", "id": block.get("tool_use_id"), "response": block.get("content")}
    if kind == "thinking":
        return {"type": "reasoning", "content": block.get("thinking", "")}
    if kind == "redacted_thinking":
        return {"type": "reasoning", "content": ""}
    if isinstance(kind, str):
        return {"type": kind}
    return None


def _parts(content: Any) -> list[dict[str, Any]]:
    """Anthropic message content (a string, a block, a list of blocks, or such a list as a JSON string) as parts."""
    if isinstance(content, str):
        stripped = content.lstrip()
        if stripped.startswith("[{") or stripped.startswith('{"type"'):
            decoded = _json(stripped)
            if isinstance(decoded, (list, dict)):
                return _parts(decoded)
        return [{"type": "text", "content": content}]
    if isinstance(content, Mapping):
        part = _block_part(content)
        return [part] if part else []
    if isinstance(content, (list, tuple)):
        return [part for part in map(_block_part, content) if part is not None]
    return []


def _tool_definition(tool: Any) -> dict[str, Any] | None:
    """An Anthropic tool (or an OpenAI-style function) as a semconv tool definition."""
    if not isinstance(tool, Mapping):
        return None
    function = tool.get("function")
    if isinstance(function, Mapping):
        tool = function
    name = tool.get("name")
    if not isinstance(name, str):
        return None
    definition: dict[str, Any] = {"type": "function", "name": name}
    if isinstance(tool.get("description"), str):
        definition["description"] = tool["description"]
    schema = tool.get("input_schema", tool.get("parameters"))
    if schema is not None:
        definition["parameters"] = _json(schema) if isinstance(schema, str) else schema
    return definition


def _request_body_content(body: Mapping[str, Any], out: Translated) -> None:
    """Content attributes from an Anthropic Messages request body (OpenInference's `input.value`)."""
    system = body.get("system")
    if system is not None and sc.GEN_AI_SYSTEM_INSTRUCTIONS not in out:
        parts = _parts(system)
        if parts:
            out[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = _dumps(parts)
    messages = body.get("messages")
    if isinstance(messages, list) and sc.GEN_AI_INPUT_MESSAGES not in out:
        out[sc.GEN_AI_INPUT_MESSAGES] = _dumps(
            [
                {"role": str(message.get("role") or "user"), "parts": _parts(message.get("content"))}
                for message in messages
                if isinstance(message, Mapping)
            ]
        )
    tools = body.get("tools")
    if isinstance(tools, list) and sc.GEN_AI_TOOL_DEFINITIONS not in out:
        definitions = [d for d in map(_tool_definition, tools) if d is not None]
        if definitions:
            out[sc.GEN_AI_TOOL_DEFINITIONS] = _dumps(definitions)


def _response_body(body: Mapping[str, Any], out: Translated) -> None:
    """Response facts and output content from an Anthropic Message body (OpenInference's `output.value`)."""
    if sc.GEN_AI_RESPONSE_ID not in out and _str(body.get("id")):
        out[sc.GEN_AI_RESPONSE_ID] = body["id"]
    if sc.GEN_AI_RESPONSE_MODEL not in out and _str(body.get("model")):
        out[sc.GEN_AI_RESPONSE_MODEL] = body["model"]
    stop_reason = _str(body.get("stop_reason"))
    if stop_reason:
        out.setdefault(anthropic_contract.STOP_REASON, stop_reason)
        out.setdefault(sc.GEN_AI_RESPONSE_FINISH_REASONS, _finish_reasons([stop_reason]))
    usage = body.get("usage")
    if isinstance(usage, Mapping):
        _usage_from_anthropic(usage, out)
    if sc.GEN_AI_OUTPUT_MESSAGES not in out and "content" in body:
        message: dict[str, Any] = {"role": str(body.get("role") or "assistant"), "parts": _parts(body.get("content"))}
        if stop_reason:
            message["finish_reason"] = anthropic_contract.STOP_REASON_TO_FINISH.get(stop_reason, stop_reason)
        out[sc.GEN_AI_OUTPUT_MESSAGES] = _dumps([message])


def _usage_from_anthropic(usage: Mapping[str, Any], out: Translated) -> None:
    """Token counts from an Anthropic `usage` object, where the span did not say them already."""
    cache_read = _int(usage.get("cache_read_input_tokens"))
    cache_write = _int(usage.get("cache_creation_input_tokens"))
    if cache_read is not None:
        out.setdefault(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, cache_read)
    if cache_write is not None:
        out.setdefault(sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, cache_write)
    raw_input = _int(usage.get("input_tokens"))
    if raw_input is not None and sc.GEN_AI_USAGE_INPUT_TOKENS not in out:
        out[sc.GEN_AI_USAGE_INPUT_TOKENS] = raw_input + (cache_read or 0) + (cache_write or 0)
    output = _int(usage.get("output_tokens"))
    if output is not None:
        out.setdefault(sc.GEN_AI_USAGE_OUTPUT_TOKENS, output)
    creation = usage.get("cache_creation")
    if isinstance(creation, Mapping):
        for field, key in (
            ("ephemeral_5m_input_tokens", anthropic_contract.CACHE_WRITE_5M),
            ("ephemeral_1h_input_tokens", anthropic_contract.CACHE_WRITE_1H),
        ):
            count = _int(creation.get(field))
            if count is not None:
                out.setdefault(key, count)
    tier = _str(usage.get("service_tier"))
    if tier:
        out.setdefault(anthropic_contract.SERVICE_TIER, tier)


# --- shared steps -------------------------------------------------------------------------------------------------


def _copy_semconv(attrs: Attributes, out: Translated) -> None:
    """Copy the contract attributes that a semconv-following span carries, with their types normalised."""
    for key in _STR_KEYS:
        value = _str(attrs.get(key))
        if value is not None:
            out[key] = value
    for key in _INT_KEYS:
        number = _int(attrs.get(key))
        if number is not None:
            out[key] = number
    for key in _FLOAT_KEYS:
        real = _float(attrs.get(key))
        if real is not None:
            out[key] = real
    stream = _bool(attrs.get(sc.GEN_AI_REQUEST_STREAM))
    if stream is not None:
        out[sc.GEN_AI_REQUEST_STREAM] = stream
    stops = _str_list(attrs.get(sc.GEN_AI_REQUEST_STOP_SEQUENCES))
    if stops:
        out[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = stops
    reasons = _str_list(attrs.get(sc.GEN_AI_RESPONSE_FINISH_REASONS))
    if reasons:
        out[sc.GEN_AI_RESPONSE_FINISH_REASONS] = _finish_reasons(reasons)
    for key in _CONTENT_KEYS:
        content = _content_json(attrs.get(key))
        if content is not None:
            out[key] = content
    if sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS not in out:
        creation = _int(attrs.get(_CACHE_CREATION_INPUT_TOKENS))
        if creation is not None:
            out[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = creation
    cost = _float(attrs.get(sc.COST_USD))
    if cost is not None:
        out[sc.COST_USD] = cost
    cost_source = _str(attrs.get(sc.COST_SOURCE))
    if cost_source:
        out[sc.COST_SOURCE] = cost_source


def _provider(attrs: Attributes, *keys: str) -> str | None:
    value = _first(attrs, (sc.GEN_AI_PROVIDER_NAME, *keys, sc.GEN_AI_SYSTEM), _str)
    return value.strip().lower() if isinstance(value, str) else None


def _normalise_input_tokens(out: Translated, *, excludes_cache: bool) -> None:
    """Make `gen_ai.usage.input_tokens` input + cache read + cache write.

    `excludes_cache` is for a source known to count only the uncached input. For the others, a count below the
    cache tokens can only be one that leaves them out (an older generation of the peer), and is corrected.
    """
    total = out.get(sc.GEN_AI_USAGE_INPUT_TOKENS)
    if not isinstance(total, int):
        return
    cached = int(out.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) or 0) + int(
        out.get(sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS) or 0
    )
    if excludes_cache or total < cached:
        out[sc.GEN_AI_USAGE_INPUT_TOKENS] = total + cached


def _finish(attrs: Attributes, out: Translated, consumed: set[str]) -> Translated:
    """Add the attributes that were not translated, as they are, and check the call has an operation."""
    for key, value in attrs.items():
        if key not in out and key not in consumed and key not in _TRANSLATED_NAMES:
            out[key] = value
    out.setdefault(sc.GEN_AI_OPERATION_NAME, sc.OP_CHAT)
    return out


def _operation(attrs: Attributes, default: str | None) -> str | None:
    operation = _str(attrs.get(sc.GEN_AI_OPERATION_NAME))
    return operation.strip().lower() if operation else default


# --- one translator per source -------------------------------------------------------------------------------------


def _tokentrail(name: str, attrs: Attributes) -> Translated | None:
    if _operation(attrs, None) in _NOT_CALL_OPERATIONS:
        return None
    return dict(attrs)


def _anthropic_sdk(name: str, attrs: Attributes) -> Translated | None:
    operation = _NATIVE_OPERATIONS.get(name)
    if operation is None:
        return None  # the SDK traces every API method; only the model calls are LLM calls
    out: Translated = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: anthropic_contract.PROVIDER}
    _copy_semconv(attrs, out)
    out[sc.GEN_AI_OPERATION_NAME] = operation
    stop_reason = out.get(anthropic_contract.STOP_REASON)
    if isinstance(stop_reason, str) and sc.GEN_AI_RESPONSE_FINISH_REASONS not in out:
        out[sc.GEN_AI_RESPONSE_FINISH_REASONS] = _finish_reasons([stop_reason])
    consumed = {"anthropic.content.truncated", "anthropic.message.batch.id", "anthropic.message.batch.request_count"}
    if _bool(attrs.get("anthropic.content.truncated")):
        out[sc.CONTENT_TRUNCATED] = True
    batch_id = _str(attrs.get("anthropic.message.batch.id"))
    if batch_id:
        out[anthropic_contract.BATCH_ID] = batch_id
    request_count = _int(attrs.get("anthropic.message.batch.request_count"))
    if request_count is not None:
        out[anthropic_contract.BATCH_REQUEST_COUNT] = request_count
    # Every SDK generation with tracing (1.14+) writes input + cache read + cache write; the check only guards.
    _normalise_input_tokens(out, excludes_cache=False)
    return _finish(attrs, out, consumed)


def _otel_genai(name: str, attrs: Attributes) -> Translated | None:
    operation = _operation(attrs, None)
    if operation is None or operation not in _CALL_OPERATIONS:
        return None
    out: Translated = {sc.GEN_AI_OPERATION_NAME: operation}
    provider = _provider(attrs)
    if provider:
        out[sc.GEN_AI_PROVIDER_NAME] = provider
    _copy_semconv(attrs, out)
    _normalise_input_tokens(out, excludes_cache=False)
    return _finish(attrs, out, {sc.GEN_AI_SYSTEM, _CACHE_CREATION_INPUT_TOKENS})


_OPENLLMETRY_CONSUMED_PREFIXES: Final = ("gen_ai.prompt.", "gen_ai.completion.", "llm.request.functions.")
_OPENLLMETRY_RENAMES: Final = (
    # (legacy names, contract name, converter)
    (("gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens"), sc.GEN_AI_USAGE_INPUT_TOKENS, _int),
    (("gen_ai.usage.completion_tokens", "llm.usage.completion_tokens"), sc.GEN_AI_USAGE_OUTPUT_TOKENS, _int),
    (("gen_ai.usage.cache_read_input_tokens",), sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, _int),
    (("gen_ai.usage.cache_creation_input_tokens",), sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, _int),
    (("gen_ai.is_streaming", "llm.is_streaming"), sc.GEN_AI_REQUEST_STREAM, _bool),
    (("llm.request.max_tokens",), sc.GEN_AI_REQUEST_MAX_TOKENS, _int),
    (("llm.temperature", "llm.request.temperature"), sc.GEN_AI_REQUEST_TEMPERATURE, _float),
    (("llm.top_p", "llm.request.top_p"), sc.GEN_AI_REQUEST_TOP_P, _float),
    (("llm.top_k", "llm.request.top_k"), sc.GEN_AI_REQUEST_TOP_K, _int),
)


def _openllmetry(name: str, attrs: Attributes) -> Translated | None:
    consumed: set[str] = {sc.GEN_AI_SYSTEM, "llm.request.type", _CACHE_CREATION_INPUT_TOKENS}
    operation = _operation(attrs, None)
    if operation is None:
        # `anthropic.chat`; legacy generations call Messages calls `completion` in llm.request.type
        operation = "text_completion" if name.endswith(".completion") else sc.OP_CHAT
    if operation not in _CALL_OPERATIONS:
        return None
    out: Translated = {sc.GEN_AI_OPERATION_NAME: operation}
    provider = _provider(attrs)
    if provider:
        out[sc.GEN_AI_PROVIDER_NAME] = provider
    _copy_semconv(attrs, out)
    for legacy, contract, convert in _OPENLLMETRY_RENAMES:
        consumed.update(legacy)
        if contract not in out:
            value = _first(attrs, legacy, convert)
            if value is not None:
                out[contract] = value
    consumed.update(("llm.usage.total_tokens", "gen_ai.usage.total_tokens"))

    # Legacy content: gen_ai.prompt.N.{role,content,tool_calls.M.*}, gen_ai.completion.N.{...,finish_reason}.
    prompts = _indexed(attrs, "gen_ai.prompt.", consumed)
    if prompts and sc.GEN_AI_INPUT_MESSAGES not in out:
        system: list[dict[str, Any]] = []
        inputs: list[dict[str, Any]] = []
        for prompt in prompts:
            role = _str(prompt.get("role")) or "user"
            parts = _parts(prompt.get("content")) + _flat_tool_calls(prompt)
            if role == "system":
                system.extend(parts)
            else:
                inputs.append({"role": role, "parts": parts})
        if system and sc.GEN_AI_SYSTEM_INSTRUCTIONS not in out:
            out[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = _dumps(system)
        out[sc.GEN_AI_INPUT_MESSAGES] = _dumps(inputs)
    completions = _indexed(attrs, "gen_ai.completion.", consumed)
    if completions:
        reasons: list[str] = []
        outputs: list[dict[str, Any]] = []
        for completion in completions:
            message: dict[str, Any] = {
                "role": _str(completion.get("role")) or "assistant",
                "parts": _parts(completion.get("content")) + _flat_tool_calls(completion),
            }
            reason = _str(completion.get("finish_reason"))
            if reason:
                mapped = anthropic_contract.STOP_REASON_TO_FINISH.get(reason, reason)
                message["finish_reason"] = mapped
                reasons.append(reason)
            outputs.append(message)
        out.setdefault(sc.GEN_AI_OUTPUT_MESSAGES, _dumps(outputs))
        if reasons:
            out.setdefault(anthropic_contract.STOP_REASON, reasons[0])
            out.setdefault(sc.GEN_AI_RESPONSE_FINISH_REASONS, _finish_reasons(reasons))
    functions = _indexed(attrs, "llm.request.functions.", consumed)
    if functions and sc.GEN_AI_TOOL_DEFINITIONS not in out:
        definitions = [d for d in map(_tool_definition, functions) if d is not None]
        if definitions:
            out[sc.GEN_AI_TOOL_DEFINITIONS] = _dumps(definitions)
    _normalise_input_tokens(out, excludes_cache=False)
    return _finish(attrs, out, consumed)


def _flat_tool_calls(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """OpenLLMetry's `tool_calls.M.{id,name,arguments}` under one indexed message, as tool_call parts."""
    calls = _indexed(message, "tool_calls.")
    return [
        {
            "type": "tool_call",
            "id": call.get("id"),
            "name": call.get("name"),
            "arguments": _maybe_json(call.get("arguments")),
        }
        for call in calls
    ]


def _maybe_json(value: Any) -> Any:
    decoded = _json(value)
    return value if decoded is None else decoded


_OPENINFERENCE_TOKENS: Final = (
    ("llm.token_count.prompt", sc.GEN_AI_USAGE_INPUT_TOKENS),
    ("llm.token_count.completion", sc.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("llm.token_count.prompt_details.cache_read", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("llm.token_count.prompt_details.cache_write", sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
    ("llm.token_count.completion_details.reasoning", sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
)
_OPENINFERENCE_PARAMS: Final = (
    ("max_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS, _int),
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE, _float),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P, _float),
    ("top_k", sc.GEN_AI_REQUEST_TOP_K, _int),
    ("stop_sequences", sc.GEN_AI_REQUEST_STOP_SEQUENCES, _str_list),
    ("stream", sc.GEN_AI_REQUEST_STREAM, _bool),
)


def _openinference(name: str, attrs: Attributes) -> Translated | None:
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
    provider = _provider(attrs, "llm.provider", "llm.system")
    if provider:
        out[sc.GEN_AI_PROVIDER_NAME] = provider
    _copy_semconv(attrs, out)
    for source_key, contract in _OPENINFERENCE_TOKENS:
        consumed.add(source_key)
        count = _int(attrs.get(source_key))
        if count is not None:
            out[contract] = count

    params = _json(attrs.get("llm.invocation_parameters"))
    params = params if isinstance(params, Mapping) else {}
    for field, contract, convert in _OPENINFERENCE_PARAMS:
        value = convert(params.get(field))
        if value is not None:
            out.setdefault(contract, value)
    if name.endswith(".stream"):
        out[sc.GEN_AI_REQUEST_STREAM] = True

    request = _json(attrs.get("input.value"))
    request = request if isinstance(request, Mapping) else {}
    request_model = _first(attrs, ("llm.request.model_name",), _str) or _str(params.get("model"))
    request_model = request_model or _str(request.get("model")) or _str(attrs.get("llm.model_name"))
    if request_model:
        out.setdefault(sc.GEN_AI_REQUEST_MODEL, request_model)
    response_model = _first(attrs, ("llm.response.model_name", "llm.model_name"), _str)
    if response_model:
        out.setdefault(sc.GEN_AI_RESPONSE_MODEL, response_model)
    finish = _str(attrs.get("llm.finish_reason"))
    if finish:
        out.setdefault(anthropic_contract.STOP_REASON, finish)
        out.setdefault(sc.GEN_AI_RESPONSE_FINISH_REASONS, _finish_reasons([finish]))

    # Content: the flattened messages first, the raw request and response bodies for what they lack.
    inputs = _indexed(attrs, "llm.input_messages.", consumed)
    if inputs and sc.GEN_AI_INPUT_MESSAGES not in out:
        system: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        for entry in inputs:
            role, parts = _openinference_message(entry)
            if role == "system":
                system.extend(parts)
            else:
                messages.append({"role": role, "parts": parts})
        if system:
            out.setdefault(sc.GEN_AI_SYSTEM_INSTRUCTIONS, _dumps(system))
        out[sc.GEN_AI_INPUT_MESSAGES] = _dumps(messages)
    outputs = _indexed(attrs, "llm.output_messages.", consumed)
    if outputs and sc.GEN_AI_OUTPUT_MESSAGES not in out:
        finish_reason = anthropic_contract.STOP_REASON_TO_FINISH.get(finish, finish) if finish else None
        produced = []
        for entry in outputs:
            role, parts = _openinference_message(entry)
            message: dict[str, Any] = {"role": role if role != "user" else "assistant", "parts": parts}
            if finish_reason:
                message["finish_reason"] = finish_reason
            produced.append(message)
        out[sc.GEN_AI_OUTPUT_MESSAGES] = _dumps(produced)
    tools = _indexed(attrs, "llm.tools.", consumed)
    if tools and sc.GEN_AI_TOOL_DEFINITIONS not in out:
        definitions = [d for d in (_tool_definition(_json(tool.get("tool.json_schema"))) for tool in tools) if d]
        if definitions:
            out[sc.GEN_AI_TOOL_DEFINITIONS] = _dumps(definitions)
    if request:
        _request_body_content(request, out)
    response = _json(attrs.get("output.value"))
    if isinstance(response, Mapping):
        _response_body(response, out)
    _normalise_input_tokens(out, excludes_cache=False)
    return _finish(attrs, out, consumed)


def _openinference_message(entry: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """One `llm.{input,output}_messages.N.*` group as (role, parts)."""
    role = _str(entry.get("message.role")) or "user"
    parts: list[dict[str, Any]] = []
    content = entry.get("message.content")
    if isinstance(content, str):
        parts.extend(_parts(content))
    for item in _indexed(entry, "message.contents."):
        kind = _str(item.get("message_content.type")) or "text"
        if kind == "text":
            parts.append({"type": "text", "content": item.get("message_content.text", "")})
        else:
            parts.append({"type": kind})
    for call in _indexed(entry, "message.tool_calls."):
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("tool_call.id"),
                "name": call.get("tool_call.function.name"),
                "arguments": _maybe_json(call.get("tool_call.function.arguments")),
            }
        )
    tool_call_id = _str(entry.get("message.tool_call_id"))
    if tool_call_id and role == "tool":
        text = "".join(str(p.get("content", "")) for p in parts if p.get("type") == "text")
        parts = [{"type": "tool_call_response", "id": tool_call_id, "response": text}]
    return role, parts


# OpenLIT writes these request parameters whether or not the call gave them, with these placeholder values.
_OPENLIT_PLACEHOLDERS: Final = {
    sc.GEN_AI_REQUEST_TEMPERATURE: 1.0,
    sc.GEN_AI_REQUEST_TOP_P: 1.0,
    sc.GEN_AI_REQUEST_TOP_K: 1,
}


def _openlit(name: str, attrs: Attributes) -> Translated | None:
    operation = _operation(attrs, None)
    named_operation, _, named_model = name.partition(" ")
    if operation is None:
        # A failed call's span has no attributes at all, only its `{operation} {model}` name and ERROR status.
        operation = named_operation
    if operation not in _CALL_OPERATIONS:
        return None
    out: Translated = {sc.GEN_AI_OPERATION_NAME: operation}
    if named_model and operation == named_operation:
        out[sc.GEN_AI_REQUEST_MODEL] = named_model
    provider = _provider(attrs)
    if provider:
        out[sc.GEN_AI_PROVIDER_NAME] = provider
    _copy_semconv(attrs, out)
    if sc.GEN_AI_SYSTEM_INSTRUCTIONS in out:
        _drop_system_messages(out)  # OpenLIT repeats the system prompt as the first input message
    for key, placeholder in _OPENLIT_PLACEHOLDERS.items():
        if out.get(key) == placeholder:
            del out[key]  # indistinguishable from "not given": the contract never records placeholders
    consumed = {
        sc.GEN_AI_SYSTEM,
        _CACHE_CREATION_INPUT_TOKENS,
        "gen_ai.server.time_to_first_token",
        "gen_ai.client.token.usage",
        "telemetry.sdk.name",
    }
    if out.get(sc.GEN_AI_REQUEST_STREAM):
        ttfc = _float(attrs.get("gen_ai.server.time_to_first_token"))
        if ttfc is not None:
            out.setdefault(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttfc)
    cost = out.get(sc.COST_USD)
    if isinstance(cost, float) and cost > 0:
        out.setdefault(sc.COST_SOURCE, SOURCE_OPENLIT)
    else:
        out.pop(sc.COST_USD, None)  # OpenLIT writes 0 when it has no price: unknown, not free
    # OpenLIT (1.x) counts only the uncached input in gen_ai.usage.input_tokens.
    _normalise_input_tokens(out, excludes_cache=True)
    return _finish(attrs, out, consumed)


def _drop_system_messages(out: Translated) -> None:
    """Remove system-role messages from the input messages (they belong in the system instructions)."""
    text = out.get(sc.GEN_AI_INPUT_MESSAGES)
    if not isinstance(text, str) or '"system"' not in text:
        return
    messages = _json(text)
    if isinstance(messages, list):
        kept = [m for m in messages if not (isinstance(m, Mapping) and m.get("role") == "system")]
        if len(kept) != len(messages):
            out[sc.GEN_AI_INPUT_MESSAGES] = _dumps(kept)


_LOGFIRE_ERROR_LEVEL: Final = 17  # logfire's level number for `error`


def _logfire(name: str, attrs: Attributes) -> Translated | None:
    operation = _operation(attrs, None)
    if operation is None or operation not in _CALL_OPERATIONS:
        return None
    is_log = attrs.get("logfire.span_type") == "log"
    has_response = any(
        key in attrs
        for key in (sc.GEN_AI_RESPONSE_ID, sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_OUTPUT_MESSAGES, "gen_ai.usage.raw")
    )
    level = _int(attrs.get("logfire.level_num"))
    failed = level is not None and level >= _LOGFIRE_ERROR_LEVEL
    if not is_log and not has_response and not failed:
        # The span around a streaming request ends when the stream is handed back; logfire records the call
        # (output, usage) in the `streaming response ...` log it writes when the stream ends.
        return None
    out: Translated = {sc.GEN_AI_OPERATION_NAME: operation}
    provider = _provider(attrs)
    if provider:
        out[sc.GEN_AI_PROVIDER_NAME] = provider
    _copy_semconv(attrs, out)
    if is_log:
        out[sc.GEN_AI_REQUEST_STREAM] = True
        if out.get(sc.GEN_AI_RESPONSE_MODEL) == out.get(sc.GEN_AI_REQUEST_MODEL):
            out.pop(sc.GEN_AI_RESPONSE_MODEL, None)  # logfire's export-time default, not the response's model
    elif not has_response:
        out.pop(sc.GEN_AI_RESPONSE_MODEL, None)  # logfire defaults it to the request model on export
    consumed = {
        sc.GEN_AI_SYSTEM,
        _CACHE_CREATION_INPUT_TOKENS,
        "gen_ai.usage.raw",
        "operation.cost",
        "logfire.json_schema",
    }
    raw = _json(attrs.get("gen_ai.usage.raw"))
    if isinstance(raw, Mapping):
        _usage_from_anthropic(raw, out)
    cost = _float(attrs.get("operation.cost"))
    if cost is not None:
        out.setdefault(sc.COST_USD, cost)
        out.setdefault(sc.COST_SOURCE, SOURCE_LOGFIRE)
    if failed:
        out.setdefault(sc.ERROR_TYPE, "_OTHER")  # logfire keeps the exception in an event, not in an attribute
    _normalise_input_tokens(out, excludes_cache=False)
    return _finish(attrs, out, consumed)


_TRANSLATORS: Final[dict[str, Callable[[str, Attributes], Translated | None]]] = {
    SOURCE_TOKENTRAIL: _tokentrail,
    SOURCE_ANTHROPIC_SDK: _anthropic_sdk,
    SOURCE_OPENLLMETRY: _openllmetry,
    SOURCE_OPENINFERENCE: _openinference,
    SOURCE_OTEL_GENAI: _otel_genai,
    SOURCE_OPENLIT: _openlit,
    SOURCE_LOGFIRE: _logfire,
}
