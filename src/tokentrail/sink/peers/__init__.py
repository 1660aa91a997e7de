"""The sink's peers: GenAI spans from other instrumentations, translated into tokentrail's span contract.

The sink stores every span, and turns the LLM calls among them into `llm_calls` rows. Spans that tokentrail
wrote already follow the contract in `tokentrail.contract.semconv`; the spans of the Anthropic SDK's own tracing
and of the peer instrumentations carry the same facts under other names, with other token semantics, or both.
`to_contract` recognises them and translates them, so that every source lands in the same columns. One module
per source exports `SOURCE`, `claims(name, scope, attrs)` (by scope), `resembles(attrs)` (by shape) and
`translate(name, attrs)`; `PEERS` orders them, and every scope test runs before any shape test:

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
Content goes through `tokentrail.contract.messages` and usage through `tokentrail.contract.anthropic`, the
converter and the token rule the instrumentor uses..
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Protocol

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.sink.peers import (
    anthropic_sdk,
    logfire,
    openinference,
    openlit,
    openllmetry,
    otel_genai,
    tokentrail_,
)

__all__ = [
    "PEERS",
    "Peer",
    "SOURCES",
    "SOURCE_ANTHROPIC_SDK",
    "SOURCE_LOGFIRE",
    "SOURCE_OPENINFERENCE",
    "SOURCE_OPENLIT",
    "SOURCE_OPENLLMETRY",
    "SOURCE_OTEL_GENAI",
    "SOURCE_TOKENTRAIL",
    "contract_of",
    "to_contract",
]

log = logging.getLogger(__name__)

SOURCE_TOKENTRAIL: Final = tokentrail_.SOURCE
SOURCE_ANTHROPIC_SDK: Final = anthropic_sdk.SOURCE
SOURCE_OPENLLMETRY: Final = openllmetry.SOURCE
SOURCE_OPENINFERENCE: Final = openinference.SOURCE
SOURCE_OTEL_GENAI: Final = otel_genai.SOURCE
SOURCE_OPENLIT: Final = openlit.SOURCE
SOURCE_LOGFIRE: Final = logfire.SOURCE
SOURCES: Final = (
    SOURCE_TOKENTRAIL,
    SOURCE_ANTHROPIC_SDK,
    SOURCE_OPENLLMETRY,
    SOURCE_OPENINFERENCE,
    SOURCE_OTEL_GENAI,
    SOURCE_OPENLIT,
    SOURCE_LOGFIRE,
)


class Peer(Protocol):
    """What each peer module exports."""

    @property
    def SOURCE(self) -> str: ...

    def claims(self, name: str, scope: str, attrs: Mapping[str, Any], /) -> bool: ...
    def resembles(self, attrs: Mapping[str, Any], /) -> bool: ...
    def translate(self, name: str, attrs: Mapping[str, Any], /) -> dict[str, Any] | None: ...


PEERS: Final[tuple[Peer, ...]] = (
    tokentrail_,
    anthropic_sdk,
    openinference,
    openllmetry,  # before otel_genai: both claim the scope prefix `opentelemetry.instrumentation.anthropic`
    otel_genai,
    openlit,
    logfire,
)
"""The translators in detection order: the first whose `claims` (scope) says yes, else the first whose
`resembles` (shape) says yes. No scope is shared but OpenLLMetry's, which `otel_genai` takes only after it."""


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
        peer = _detect(span_name, scope, attrs)
        if peer is None:
            return None
        translated = peer.translate(span_name, attrs)
        return None if translated is None else (peer.SOURCE, translated)
    except Exception:
        log.debug("could not translate span %r of scope %r", name, scope_name, exc_info=True)
        return None


def _detect(name: str, scope: str, attrs: Mapping[str, Any]) -> Peer | None:
    for peer in PEERS:
        if peer.claims(name, scope, attrs):
            return peer
    # No known scope (a collector may drop it, or a wrapper re-emits the span): judge by shape.
    for peer in PEERS:
        if peer.resembles(attrs):
            return peer
    return None


def contract_of(name: str, scope_name: str | None, attributes: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(source, attributes in tokentrail's contract names) for an LLM span, None for any other span.

    `to_contract` decides (it knows every instrumentation's conventions, ours and plain GenAI included);
    only if it fails does the plain GenAI-convention check stand in, so one bad span never blocks a batch.
    """
    try:
        found = to_contract(name, scope_name, attributes)
    except Exception:
        log.exception("to_contract failed on span %r (scope %r); using the GenAI conventions", name, scope_name)
        return _by_genai_conventions(scope_name, attributes)
    if found is not None and _looks_like_a_call(found[1]):
        return found
    return None


def _by_genai_conventions(scope_name: str | None, attributes: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    operation = attributes.get(semconv.GEN_AI_OPERATION_NAME)
    provider = attributes.get(semconv.GEN_AI_PROVIDER_NAME) or attributes.get(semconv.GEN_AI_SYSTEM)
    if isinstance(operation, str) and operation and provider:
        source = SOURCE_TOKENTRAIL if scope_name == anthropic_contract.INSTRUMENTATION_SCOPE else SOURCE_OTEL_GENAI
        return source, dict(attributes)
    return None


def _looks_like_a_call(attributes: Mapping[str, Any]) -> bool:
    """A translated span is an LLM call only if it names an operation, a provider or a model (a span of a known
    scope without any of them, e.g. an internal helper span, stays a plain span)."""
    return any(
        attributes.get(key)
        for key in (
            semconv.GEN_AI_OPERATION_NAME,
            semconv.GEN_AI_PROVIDER_NAME,
            semconv.GEN_AI_SYSTEM,
            semconv.GEN_AI_REQUEST_MODEL,
        )
    )
