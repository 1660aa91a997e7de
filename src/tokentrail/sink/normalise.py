"""Decoded spans -> rows: every span a `spans` row, LLM spans also an `llm_calls` row, content bodies as blobs.

Spans written by other instrumentations are first translated to tokentrail's span contract by
`tokentrail.sink.interop.to_contract` (when that module is present); spans that already follow the GenAI
conventions (`gen_ai.operation.name` with `gen_ai.provider.name` or `gen_ai.system`) are LLM spans as they are.
Content attributes (system instructions, input/output messages, tool definitions) are stored once in
`content_blobs` by SHA-256 and replaced in both tables' attributes by `{"sha256": "<hex>"}`.

Normalisation never loses a span: if mapping an LLM span fails, the span is still stored (without its
`llm_calls` row) and the failure is logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import orjson

from tokentrail import semconv
from tokentrail.sink.decode import DecodedSpan
from tokentrail.sink.interop import to_contract

__all__ = [
    "CONTENT_ATTRIBUTES",
    "LINKS_ATTRIBUTE",
    "Batch",
    "BlobRow",
    "LlmCallRow",
    "Normaliser",
    "SpanRow",
    "contract_of",
]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_INT64_MAX = 2**63 - 1
_COST_MAX = Decimal("9999999999")  # numeric(20, 10)
_ERROR_MESSAGE_MAX = 1000

CONTENT_ATTRIBUTES: dict[str, str] = {
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS: "system_sha256",
    semconv.GEN_AI_INPUT_MESSAGES: "input_sha256",
    semconv.GEN_AI_OUTPUT_MESSAGES: "output_sha256",
    semconv.GEN_AI_TOOL_DEFINITIONS: "tools_sha256",
}
"""Content attribute -> the `llm_calls` column holding the SHA-256 of its body."""

LINKS_ATTRIBUTE = "tokentrail.span.links"
"""The schema has no links column: a span's links are kept in its `spans.attributes` under this key."""

SOURCE_TOKENTRAIL = "tokentrail"
SOURCE_OTEL_GENAI = "otel-genai"


class SpanRow(NamedTuple):
    """A `spans` row; field names are the column names (the store copies them in this order)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    start_time: datetime
    end_time: datetime
    duration_ms: float
    name: str
    kind: int
    status_code: int
    status_message: str | None
    service_name: str | None
    scope_name: str | None
    scope_version: str | None
    attributes: str  # JSON text
    resource_attributes: str
    events: str | None
    is_llm: bool


class LlmCallRow(NamedTuple):
    """An `llm_calls` row; field names are the column names."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    start_time: datetime
    duration_ms: float
    time_to_first_chunk_ms: float | None
    service_name: str | None
    source: str
    operation: str
    provider: str | None
    request_model: str | None
    response_model: str | None
    streaming: bool | None
    status: str
    error_type: str | None
    error_message: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    cost_usd: Decimal | None
    cost_source: str | None
    finish_reasons: list[str] | None
    response_id: str | None
    user_id: str | None
    session_id: str | None
    conversation_id: str | None
    tags: list[str] | None
    prompt_name: str | None
    prompt_version: str | None
    workflow_name: str | None
    system_sha256: bytes | None
    input_sha256: bytes | None
    output_sha256: bytes | None
    tools_sha256: bytes | None
    content_truncated: bool
    attributes: str  # JSON text


class BlobRow(NamedTuple):
    """A `content_blobs` row."""

    sha256: bytes
    body: str
    bytes: int


class Batch:
    """The rows of one export request, content deduplicated within the batch, plus the days it touches."""

    __slots__ = ("_resources", "blobs", "days", "llm_calls", "spans")

    def __init__(self) -> None:
        self.spans: list[SpanRow] = []
        self.llm_calls: list[LlmCallRow] = []
        self.blobs: dict[bytes, BlobRow] = {}
        self.days: set[date] = set()
        # JSON of each resource, by identity: the spans of one ResourceSpans share one decoded dict, which stays
        # alive (so its id stays unique) as long as the batch is being built from them.
        self._resources: dict[int, tuple[dict[str, Any], str]] = {}

    def resource_json(self, resource: dict[str, Any]) -> str:
        cached = self._resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            cached = (resource, _json(resource))
            self._resources[id(resource)] = cached
        return cached[1]

    def __len__(self) -> int:
        return len(self.spans)

    @property
    def content_bytes(self) -> int:
        """UTF-8 bytes of the distinct content bodies in this batch."""
        return sum(blob.bytes for blob in self.blobs.values())


def contract_of(name: str, scope_name: str | None, attributes: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(source, attributes in tokentrail's contract names) for an LLM span, None for any other span.

    `interop.to_contract` decides (it knows every instrumentation's conventions, ours and plain GenAI included);
    only if it fails does the plain GenAI-convention check stand in, so one bad span never blocks a batch.
    """
    try:
        found = to_contract(name, scope_name, attributes)
    except Exception:
        log.exception("interop.to_contract failed on span %r (scope %r); using the GenAI conventions", name, scope_name)
        return _by_genai_conventions(scope_name, attributes)
    if found is not None and _looks_like_a_call(found[1]):
        return found
    return None


def _by_genai_conventions(scope_name: str | None, attributes: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    operation = attributes.get(semconv.GEN_AI_OPERATION_NAME)
    provider = attributes.get(semconv.GEN_AI_PROVIDER_NAME) or attributes.get(semconv.GEN_AI_SYSTEM)
    if isinstance(operation, str) and operation and provider:
        source = SOURCE_TOKENTRAIL if scope_name == semconv.INSTRUMENTATION_SCOPE else SOURCE_OTEL_GENAI
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


# --- value coercion ------------------------------------------------------------------------------------------


def _json(value: Any) -> str:
    """Compact JSON text (orjson: the sink's hottest path). Decoded OTLP values are always serialisable; anything
    odd a translation may add (a huge integer, an object) falls back to the standard library, as text."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _time(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return str(value)
    return _json(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if 0 <= number <= _INT64_MAX else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _cost(value: Any) -> Decimal | None:
    number = _float(value)
    if number is None or number < 0:
        return None
    try:
        cost = Decimal(repr(number)).quantize(Decimal("1e-10"))
    except InvalidOperation:
        return None
    return cost if cost <= _COST_MAX else None


def _strings(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [item if isinstance(item, str) else _json(item) for item in value if item is not None]
    return [_json(value)]


# --- the mapping ---------------------------------------------------------------------------------------------

# Contract attributes that have an llm_calls column; the row's `attributes` keeps every other one.
_COLUMN_ATTRIBUTES: frozenset[str] = frozenset(
    [
        semconv.GEN_AI_OPERATION_NAME,
        semconv.GEN_AI_PROVIDER_NAME,
        semconv.GEN_AI_SYSTEM,
        semconv.GEN_AI_REQUEST_MODEL,
        semconv.GEN_AI_RESPONSE_MODEL,
        semconv.GEN_AI_REQUEST_STREAM,
        semconv.GEN_AI_RESPONSE_ID,
        semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
        semconv.GEN_AI_RESPONSE_FINISH_REASONS,
        semconv.GEN_AI_USAGE_INPUT_TOKENS,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
        semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        semconv.ERROR_TYPE,
        semconv.USER_ID,
        semconv.SESSION_ID,
        semconv.GEN_AI_CONVERSATION_ID,
        semconv.TAGS,
        semconv.PROMPT_NAME,
        semconv.PROMPT_VERSION,
        semconv.WORKFLOW_NAME,
        semconv.COST_USD,
        semconv.COST_SOURCE,
        semconv.CONTENT_TRUNCATED,
    ]
)

_STATUS_ERROR = 2


class Normaliser:
    """Turns decoded spans into a `Batch`. `pricebook` (a `tokentrail.pricing.PriceBook`) prices LLM spans that
    carry tokens but no cost; pass None to turn that off."""

    def __init__(self, pricebook: Any | None = None) -> None:
        self._pricebook = pricebook

    def batch(self, spans: Iterable[DecodedSpan]) -> Batch:
        batch = Batch()
        for span in spans:
            self.add(batch, span)
        return batch

    def add(self, batch: Batch, span: DecodedSpan) -> None:
        """Add one span (and its LLM row and content blobs, if any) to `batch`."""
        start = _time(span.start_ns)
        end = _time(span.end_ns)
        duration_ms = (span.end_ns - span.start_ns) / 1e6
        batch.days.add(start.date())

        llm: LlmCallRow | None = None
        refs: dict[str, dict[str, str]] = {}
        try:
            found = contract_of(span.name, span.scope_name, span.attributes)
            if found is not None:
                source, contract = found
                digests = self._content(batch, contract, refs)
                llm = self._llm_row(
                    span,
                    start=start,
                    duration_ms=duration_ms,
                    source=source,
                    attrs=contract,
                    digests=digests,
                    refs=refs,
                )
        except Exception:
            log.exception(
                "could not map LLM span %s/%s (%r); storing it as a plain span", span.trace_id, span.span_id, span.name
            )
            llm = None

        attributes = dict(span.attributes)
        for key in CONTENT_ATTRIBUTES:
            if attributes.get(key) is not None:
                attributes[key] = refs[key] if key in refs else self._blob_ref(batch, attributes[key])
        if span.links:
            attributes[LINKS_ATTRIBUTE] = span.links
        batch.spans.append(
            SpanRow(
                trace_id=span.trace_id,
                span_id=span.span_id,
                parent_span_id=span.parent_span_id,
                start_time=start,
                end_time=end,
                duration_ms=duration_ms,
                name=span.name,
                kind=span.kind,
                status_code=span.status_code,
                status_message=span.status_message,
                service_name=span.service_name,
                scope_name=span.scope_name,
                scope_version=span.scope_version,
                attributes=_json(attributes),
                resource_attributes=batch.resource_json(span.resource_attributes),
                events=_json(span.events) if span.events else None,
                is_llm=llm is not None,
            )
        )
        if llm is not None:
            batch.llm_calls.append(llm)

    # -- content ------------------------------------------------------------------------------------------
    @staticmethod
    def _blob_ref(batch: Batch, value: Any) -> dict[str, str]:
        body = value if isinstance(value, str) else _json(value)
        encoded = body.encode("utf-8")
        digest = hashlib.sha256(encoded).digest()
        if digest not in batch.blobs:
            batch.blobs[digest] = BlobRow(digest, body, len(encoded))
        return {"sha256": digest.hex()}

    def _content(self, batch: Batch, contract: dict[str, Any], refs: dict[str, dict[str, str]]) -> dict[str, bytes]:
        digests: dict[str, bytes] = {}
        for key, column in CONTENT_ATTRIBUTES.items():
            value = contract.get(key)
            if value is None:
                continue
            ref = self._blob_ref(batch, value)
            refs[key] = ref
            digests[column] = bytes.fromhex(ref["sha256"])
        return digests

    # -- the llm_calls row --------------------------------------------------------------------------------
    def _llm_row(
        self,
        span: DecodedSpan,
        *,
        start: datetime,
        duration_ms: float,
        source: str,
        attrs: dict[str, Any],
        digests: dict[str, bytes],
        refs: dict[str, dict[str, str]],
    ) -> LlmCallRow:
        def text(key: str) -> str | None:
            return _str(attrs.get(key))

        def count(key: str) -> int | None:
            return _int(attrs.get(key))

        provider = _str(attrs.get(semconv.GEN_AI_PROVIDER_NAME) or attrs.get(semconv.GEN_AI_SYSTEM))
        request_model = text(semconv.GEN_AI_REQUEST_MODEL)
        response_model = text(semconv.GEN_AI_RESPONSE_MODEL)
        error_type = text(semconv.ERROR_TYPE)
        failed = span.status_code == _STATUS_ERROR or error_type is not None
        ttfc = _float(attrs.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
        input_tokens = count(semconv.GEN_AI_USAGE_INPUT_TOKENS)
        output_tokens = count(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
        cache_read = count(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
        cache_write = count(semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS)

        cost = _cost(attrs.get(semconv.COST_USD))
        cost_source = text(semconv.COST_SOURCE) if cost is not None else None
        model = response_model or request_model
        if cost is None and model is not None and (input_tokens is not None or output_tokens is not None):
            computed = self._price(
                model,
                provider,
                input_tokens=input_tokens or 0,
                output_tokens=output_tokens or 0,
                cache_read=cache_read or 0,
                cache_write=cache_write or 0,
                write_5m=count(semconv.ANTHROPIC_CACHE_WRITE_5M),
                write_1h=count(semconv.ANTHROPIC_CACHE_WRITE_1H),
            )
            if computed is not None:
                cost, cost_source = computed

        operation = text(semconv.GEN_AI_OPERATION_NAME) or semconv.OP_CHAT
        streaming = _bool(attrs.get(semconv.GEN_AI_REQUEST_STREAM))
        absent = semconv.GEN_AI_REQUEST_STREAM not in attrs
        if absent and source == "tokentrail" and operation == semconv.OP_CHAT:
            streaming = False  # our contract sets gen_ai.request.stream on streaming calls only
        extra = {key: value for key, value in attrs.items() if key not in _COLUMN_ATTRIBUTES}
        extra.update(refs)
        return LlmCallRow(
            trace_id=span.trace_id,
            span_id=span.span_id,
            parent_span_id=span.parent_span_id,
            start_time=start,
            duration_ms=duration_ms,
            time_to_first_chunk_ms=ttfc * 1000 if ttfc is not None else None,
            service_name=span.service_name,
            source=source,
            operation=operation,
            provider=provider,
            request_model=request_model,
            response_model=response_model,
            streaming=streaming,
            status="error" if failed else "ok",
            error_type=error_type,
            error_message=_error_message(span) if failed else None,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            reasoning_tokens=count(semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
            cost_usd=cost,
            cost_source=cost_source,
            finish_reasons=_strings(attrs.get(semconv.GEN_AI_RESPONSE_FINISH_REASONS)),
            response_id=text(semconv.GEN_AI_RESPONSE_ID),
            user_id=text(semconv.USER_ID),
            session_id=text(semconv.SESSION_ID),
            conversation_id=text(semconv.GEN_AI_CONVERSATION_ID),
            tags=_strings(attrs.get(semconv.TAGS)),
            prompt_name=text(semconv.PROMPT_NAME),
            prompt_version=text(semconv.PROMPT_VERSION),
            workflow_name=text(semconv.WORKFLOW_NAME),
            system_sha256=digests.get("system_sha256"),
            input_sha256=digests.get("input_sha256"),
            output_sha256=digests.get("output_sha256"),
            tools_sha256=digests.get("tools_sha256"),
            content_truncated=_bool(attrs.get(semconv.CONTENT_TRUNCATED)) or False,
            attributes=_json(extra),
        )

    def _price(
        self,
        model: str,
        provider: str | None,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read: int,
        cache_write: int,
        write_5m: int | None,
        write_1h: int | None,
    ) -> tuple[Decimal, str] | None:
        """Cost from the price book. The contract's input tokens include cache reads and writes; the price book
        wants the uncached part. Without the 5m/1h split every cache write is priced as a 5-minute write."""
        if self._pricebook is None:
            return None
        from tokentrail.pricing import Usage

        write_1h = write_1h or 0
        if write_5m is None:
            write_5m = max(cache_write - write_1h, 0)
        usage = Usage(
            input_tokens=max(input_tokens - cache_read - cache_write, 0),
            output_tokens=output_tokens,
            cache_read_tokens=cache_read,
            cache_write_5m_tokens=write_5m,
            cache_write_1h_tokens=write_1h,
        )
        try:
            cost = self._pricebook.cost(model, usage, provider=provider or semconv.PROVIDER_ANTHROPIC)
        except Exception:
            log.exception("pricing %r failed", model)
            return None
        if cost is None:
            return None
        amount = _cost(cost.usd)
        return (amount, f"sink:{cost.source}") if amount is not None else None


def _error_message(span: DecodedSpan) -> str | None:
    message = span.status_message
    if not message:
        for event in span.events:
            if event.get("name") == "exception":
                found = event.get("attributes", {}).get("exception.message")
                if isinstance(found, str) and found:
                    message = found
                    break
    return message[:_ERROR_MESSAGE_MAX] if message else None
