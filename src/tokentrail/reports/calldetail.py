"""One LLM call in full: its row, its span's request parameters, its content as a conversation, its cost broken
down (SELECT only).

The breakdown prices each kind of token with `tokentrail.pricing` when the price book knows the model; cache
writes are priced at the 5-minute rate (the row does not keep the 5-minute / 1-hour split), so the parts may not
add up exactly to the stored total, which stays the figure of record. Unknown model: no breakdown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from psycopg.rows import dict_row

from tokentrail.contract import semconv
from tokentrail.pricing import ModelRates, default_pricebook
from tokentrail.reports.conversation import Conversation, conversation
from tokentrail.reports.queries import Connection

__all__ = ["CallDetail", "CostBreakdown", "call_detail", "cost_breakdown"]

_REQUEST_PREFIX: Final = "gen_ai.request."
_HIDDEN_REQUEST: Final = frozenset({semconv.GEN_AI_REQUEST_MODEL})


@dataclass(frozen=True)
class CostBreakdown:
    """USD per kind of token at the model's list prices."""

    input_usd: Decimal
    cache_read_usd: Decimal
    cache_write_usd: Decimal
    output_usd: Decimal
    priced_model: str
    source: str

    @property
    def total_usd(self) -> Decimal:
        return self.input_usd + self.cache_read_usd + self.cache_write_usd + self.output_usd


@dataclass(frozen=True)
class CallDetail:
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
    """All input, cache reads and writes included (as on the span)."""
    uncached_input_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
    cost_usd: Decimal | None
    cost_source: str | None
    finish_reasons: tuple[str, ...]
    response_id: str | None
    user_id: str | None
    session_id: str | None
    conversation_id: str | None
    tags: tuple[str, ...]
    prompt_name: str | None
    prompt_version: str | None
    workflow_name: str | None
    call_type: str | None
    attempts: int | None
    request_params: tuple[tuple[str, str], ...]
    """`gen_ai.request.*` attributes but the model (name without the prefix, value as JSON text), sorted."""
    app_attributes: tuple[tuple[str, str], ...]
    """`tokentrail.app.*` attributes (name without the prefix), sorted."""
    breakdown: CostBreakdown | None
    conversation: Conversation


_DETAIL_QUERY: Final = """
SELECT c.*, s.attributes AS span_attributes,
       sb.body AS system_body, ib.body AS input_body, ob.body AS output_body, tb.body AS tools_body
FROM llm_calls AS c
LEFT JOIN spans AS s ON s.trace_id = c.trace_id AND s.span_id = c.span_id AND s.start_time = c.start_time
LEFT JOIN content_blobs AS sb ON sb.sha256 = c.system_sha256
LEFT JOIN content_blobs AS ib ON ib.sha256 = c.input_sha256
LEFT JOIN content_blobs AS ob ON ob.sha256 = c.output_sha256
LEFT JOIN content_blobs AS tb ON tb.sha256 = c.tools_sha256
WHERE c.trace_id = %(trace_id)s AND c.span_id = %(span_id)s
ORDER BY c.start_time
LIMIT 1
"""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _prefixed(
    attributes: dict[str, Any], prefix: str, hidden: frozenset[str] = frozenset()
) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            (key.removeprefix(prefix), _text(value))
            for key, value in attributes.items()
            if key.startswith(prefix) and key not in hidden and value is not None
        )
    )


def _usd(tokens: int, rate_per_token: float) -> Decimal:
    return (Decimal(tokens) * Decimal(repr(rate_per_token))).quantize(Decimal("0.0000000001"))


def cost_breakdown(
    rates: ModelRates, uncached_input: int, cache_read: int, cache_write: int, output: int
) -> CostBreakdown:
    """The four parts of a call's cost at `rates` (the tier its total input falls in)."""
    tier = rates.rates_for(uncached_input + cache_read + cache_write)
    return CostBreakdown(
        input_usd=_usd(uncached_input, tier.input),
        cache_read_usd=_usd(cache_read, tier.cache_read),
        cache_write_usd=_usd(cache_write, tier.cache_write_5m),
        output_usd=_usd(output, tier.output),
        priced_model=rates.model,
        source=rates.source,
    )


def _breakdown(row: dict[str, Any], uncached: int | None) -> CostBreakdown | None:
    model = row["response_model"] or row["request_model"]
    if not model or row["operation"] == "count_tokens" or uncached is None:
        return None
    try:
        rates = default_pricebook().rates(model)
    except Exception:  # a broken override file: the stored total still shows
        return None
    if rates is None:
        return None
    return cost_breakdown(
        rates, uncached, row["cache_read_tokens"] or 0, row["cache_write_tokens"] or 0, row["output_tokens"] or 0
    )


def call_detail(conn: Connection, trace_id: str, span_id: str) -> CallDetail | None:
    """The call stored for `span_id` of `trace_id` (lower-case hex ids), or None when there is none."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(_DETAIL_QUERY, {"trace_id": trace_id.lower(), "span_id": span_id.lower()}).fetchone()
    if row is None:
        return None
    attributes = {**(row["attributes"] or {}), **(row["span_attributes"] or {})}
    total = row["input_tokens"]
    uncached = (
        None if total is None else max(total - (row["cache_read_tokens"] or 0) - (row["cache_write_tokens"] or 0), 0)
    )
    return CallDetail(
        trace_id=row["trace_id"],
        span_id=row["span_id"],
        parent_span_id=row["parent_span_id"],
        start_time=row["start_time"],
        duration_ms=row["duration_ms"],
        time_to_first_chunk_ms=row["time_to_first_chunk_ms"],
        service_name=row["service_name"],
        source=row["source"],
        operation=row["operation"],
        provider=row["provider"],
        request_model=row["request_model"],
        response_model=row["response_model"],
        streaming=row["streaming"],
        status=row["status"],
        error_type=row["error_type"],
        error_message=row["error_message"],
        input_tokens=total,
        uncached_input_tokens=uncached,
        cache_read_tokens=row["cache_read_tokens"],
        cache_write_tokens=row["cache_write_tokens"],
        output_tokens=row["output_tokens"],
        reasoning_tokens=row["reasoning_tokens"],
        cost_usd=row["cost_usd"],
        cost_source=row["cost_source"],
        finish_reasons=tuple(row["finish_reasons"] or ()),
        response_id=row["response_id"],
        user_id=row["user_id"],
        session_id=row["session_id"],
        conversation_id=row["conversation_id"],
        tags=tuple(row["tags"] or ()),
        prompt_name=row["prompt_name"],
        prompt_version=row["prompt_version"],
        workflow_name=row["workflow_name"],
        call_type=row["call_type"],
        attempts=row["attempts"],
        request_params=_prefixed(attributes, _REQUEST_PREFIX, _HIDDEN_REQUEST),
        app_attributes=_prefixed(attributes, semconv.APP_ATTRIBUTE_PREFIX),
        breakdown=_breakdown(row, uncached),
        conversation=conversation(
            row["system_body"],
            row["input_body"],
            row["output_body"],
            row["tools_body"],
            truncated=row["content_truncated"],
        ),
    )
