"""Decoded spans -> rows: every span a `spans` row, LLM spans also an `llm_calls` row, content bodies as blobs.

Which spans are LLM calls, and their attributes in tokentrail's span contract, is `tokentrail.sink.peers`'s
verdict (`contract_of`: every known instrumentation's conventions, ours and plain GenAI included).
Content attributes (system instructions, input/output messages, tool definitions) are stored once in
`content_blobs` by SHA-256 and replaced in both tables' attributes by `{"sha256": "<hex>"}`.

Normalisation never loses a span: if mapping an LLM span fails, the span is still stored (without its
`llm_calls` row) and the failure is logged.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import coerce, semconv
from tokentrail.db.rows import Batch, BlobRow, LlmCallRow, SpanRow
from tokentrail.sink import facts
from tokentrail.sink.peers import contract_of
from tokentrail.sink.spans import DecodedSpan
from tokentrail.sink.values import (
    OutOfRange,
    as_cost,
    as_count,
    as_identifier,
    as_strings,
    as_text,
    cut,
    json_text,
    safe_text,
)

__all__ = [
    "CONTENT_ATTRIBUTES",
    "LINKS_ATTRIBUTE",
    "Normaliser",
]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ERROR_MESSAGE_MAX = 1000

SPAN_NAME_ATTRIBUTE = "tokentrail.span.name"
"""A span name longer than the `spans.name` column keeps (`values.IDENTIFIER_MAX`) is kept whole here."""

CONTENT_ATTRIBUTES: dict[str, str] = {
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS: "system_sha256",
    semconv.GEN_AI_INPUT_MESSAGES: "input_sha256",
    semconv.GEN_AI_OUTPUT_MESSAGES: "output_sha256",
    semconv.GEN_AI_TOOL_DEFINITIONS: "tools_sha256",
}
"""Content attribute -> the `llm_calls` column holding the SHA-256 of its body."""

LINKS_ATTRIBUTE = "tokentrail.span.links"
"""The schema has no links column: a span's links are kept in its `spans.attributes` under this key."""


def _resource_json(batch: Batch, resource: dict[str, Any]) -> str:
    """The JSON of a span's resource, made once per resource of the batch."""
    cached = batch.resources.get(id(resource))
    if cached is None or cached[0] is not resource:
        cached = (resource, json_text(resource))
        batch.resources[id(resource)] = cached
    return cached[1]


def _time(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


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
        semconv.CALL_TYPE,
        semconv.TOOL_CALL_NAMES,
        semconv.TOOL_CALL_IDS,
        semconv.REQUEST_ATTEMPTS,
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
                    batch,
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
        name = cut(span.name)
        if name is not span.name:
            attributes[SPAN_NAME_ATTRIBUTE] = span.name
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
                name=name,
                kind=span.kind,
                status_code=span.status_code,
                status_message=span.status_message,
                service_name=as_identifier(span.service_name),
                scope_name=as_identifier(span.scope_name),
                scope_version=as_identifier(span.scope_version),
                attributes=json_text(attributes),
                resource_attributes=_resource_json(batch, span.resource_attributes),
                events=json_text(span.events) if span.events else None,
                is_llm=llm is not None,
            )
        )
        if llm is not None:
            batch.llm_calls.append(llm)

    # -- content ------------------------------------------------------------------------------------------
    @staticmethod
    def _blob_ref(batch: Batch, value: Any) -> dict[str, str]:
        body = safe_text(value) if isinstance(value, str) else json_text(value)
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
        batch: Batch,
        span: DecodedSpan,
        *,
        start: datetime,
        duration_ms: float,
        source: str,
        attrs: dict[str, Any],
        digests: dict[str, bytes],
        refs: dict[str, dict[str, str]],
    ) -> LlmCallRow:
        extra = {key: value for key, value in attrs.items() if key not in _COLUMN_ATTRIBUTES}
        extra.update(refs)

        def text(key: str) -> str | None:
            """An identifier column; a value too long for it is cut, and kept whole in `attributes`."""
            full = as_text(attrs.get(key))
            if full is None:
                return None
            short = cut(full)
            if short is not full:
                extra[key] = full
            return short

        def count(key: str) -> int | None:
            """A token column; an impossible count is left out (kept in `attributes`) with a warning."""
            try:
                return as_count(attrs.get(key))
            except OutOfRange as exc:
                extra[key] = attrs.get(key)
                batch.warn(f"{key}: {exc}")
                return None

        has_provider = bool(attrs.get(semconv.GEN_AI_PROVIDER_NAME))
        provider = text(semconv.GEN_AI_PROVIDER_NAME if has_provider else semconv.GEN_AI_SYSTEM)
        request_model = text(semconv.GEN_AI_REQUEST_MODEL)
        response_model = text(semconv.GEN_AI_RESPONSE_MODEL)
        error_type = text(semconv.ERROR_TYPE)
        failed = span.status_code == _STATUS_ERROR or error_type is not None
        ttfc = coerce.real(attrs.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
        input_tokens = count(semconv.GEN_AI_USAGE_INPUT_TOKENS)
        output_tokens = count(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
        cache_read = count(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
        cache_write = count(semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS)

        operation = text(semconv.GEN_AI_OPERATION_NAME) or semconv.OP_CHAT
        priced = operation != semconv.OP_COUNT_TOKENS  # token counting is free: no cost, sent or computed
        try:
            cost = as_cost(attrs.get(semconv.COST_USD)) if priced else None
        except OutOfRange as exc:
            extra[semconv.COST_USD] = attrs.get(semconv.COST_USD)
            batch.warn(f"{semconv.COST_USD}: {exc}")
            cost = None
        cost_source = text(semconv.COST_SOURCE) if cost is not None else None
        model = response_model or request_model
        has_tokens = input_tokens is not None or output_tokens is not None
        if priced and cost is None and model is not None and has_tokens:
            computed = self._price(
                model,
                provider,
                input_tokens=input_tokens or 0,
                output_tokens=output_tokens or 0,
                cache_read=cache_read or 0,
                cache_write=cache_write or 0,
                write_5m=count(anthropic_contract.CACHE_WRITE_5M),
                write_1h=count(anthropic_contract.CACHE_WRITE_1H),
                web_searches=count(anthropic_contract.WEB_SEARCH_REQUESTS) or 0,
                fast=as_text(attrs.get(anthropic_contract.SPEED)) == "fast",
            )
            if computed is not None:
                cost, cost_source = computed

        tools = facts.tool_calls(attrs)
        streaming = coerce.flag(attrs.get(semconv.GEN_AI_REQUEST_STREAM))
        absent = semconv.GEN_AI_REQUEST_STREAM not in attrs
        if absent and source == "tokentrail" and operation == semconv.OP_CHAT:
            streaming = False  # our contract sets gen_ai.request.stream on streaming calls only
        return LlmCallRow(
            trace_id=span.trace_id,
            span_id=span.span_id,
            parent_span_id=span.parent_span_id,
            start_time=start,
            duration_ms=duration_ms,
            time_to_first_chunk_ms=ttfc * 1000 if ttfc is not None else None,
            service_name=as_identifier(span.service_name),
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
            finish_reasons=as_strings(attrs.get(semconv.GEN_AI_RESPONSE_FINISH_REASONS)),
            response_id=text(semconv.GEN_AI_RESPONSE_ID),
            user_id=text(semconv.USER_ID),
            session_id=text(semconv.SESSION_ID),
            conversation_id=text(semconv.GEN_AI_CONVERSATION_ID),
            tags=as_strings(attrs.get(semconv.TAGS)),
            prompt_name=text(semconv.PROMPT_NAME),
            prompt_version=text(semconv.PROMPT_VERSION),
            workflow_name=text(semconv.WORKFLOW_NAME),
            system_sha256=digests.get("system_sha256"),
            input_sha256=digests.get("input_sha256"),
            output_sha256=digests.get("output_sha256"),
            tools_sha256=digests.get("tools_sha256"),
            content_truncated=coerce.flag(attrs.get(semconv.CONTENT_TRUNCATED)) or False,
            call_type=text(semconv.CALL_TYPE),
            tool_names=tools.names,
            tool_call_ids=tools.ids,
            attempts=facts.attempts(attrs, span.events),
            attributes=json_text(extra),
            sources=[source],
            member_span_ids=None,
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
        web_searches: int,
        fast: bool,
    ) -> tuple[Decimal, str] | None:
        """Cost from the price book, as the instrumentor prices the same call. The contract's input tokens include
        cache reads and writes; the price book wants the uncached part. Without the 5m/1h split every cache write
        is priced as a 5-minute write. Web searches are priced per request, fast mode at fast-mode prices."""
        if self._pricebook is None:
            return None
        from tokentrail.pricing import Usage

        write_1h = write_1h or 0
        if write_5m is None:
            write_5m = max(cache_write - write_1h, 0)
        usage = Usage(
            input_tokens=anthropic_contract.uncached_input(input_tokens, cache_read, cache_write),
            output_tokens=output_tokens,
            cache_read_tokens=cache_read,
            cache_write_5m_tokens=write_5m,
            cache_write_1h_tokens=write_1h,
            web_search_requests=web_searches,
            fast=fast,
        )
        try:
            cost = self._pricebook.cost(model, usage, provider=provider or anthropic_contract.PROVIDER)
        except Exception:
            log.exception("pricing %r failed", model)
            return None
        if cost is None:
            return None
        try:
            amount = as_cost(cost.usd)
        except OutOfRange:
            return None
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
    return safe_text(message[:_ERROR_MESSAGE_MAX]) if message else None
