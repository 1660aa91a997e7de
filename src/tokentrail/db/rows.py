"""The rows the store writes: one `spans` row per span, one `llm_calls` row per call, content blobs, and a batch.

The sink's normaliser builds them, the store copies them (field names are the column names, in copy order), and
`merge` folds several reports of one call into one row. They live here, below the sink, because they are the
store's schema in Python.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple

__all__ = ["Batch", "BlobRow", "LlmCallRow", "SpanRow"]

_MAX_WARNINGS: Final = 5


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
    call_type: str | None
    """The application's own kind of call (`tokentrail.call_type`)."""
    tool_names: list[str] | None
    """The tools the response asked to call, in response order; `tool_call_ids` index for index."""
    tool_call_ids: list[str] | None
    attempts: int | None
    """HTTP attempts the SDK made (None: one, or not known)."""
    attributes: str  # JSON text
    sources: list[str]
    """Every instrumentation that reported this call (more than one when several spans were merged into it)."""
    member_span_ids: list[str] | None
    """The span ids of the reports merged into this row; None for a call reported once."""


class BlobRow(NamedTuple):
    """A `content_blobs` row."""

    sha256: bytes
    body: str
    bytes: int


class Batch:
    """The rows of one export request, content deduplicated within the batch, plus the days it touches."""

    __slots__ = ("blobs", "days", "llm_calls", "resources", "spans", "warnings")

    def __init__(self) -> None:
        self.spans: list[SpanRow] = []
        self.llm_calls: list[LlmCallRow] = []
        self.blobs: dict[bytes, BlobRow] = {}
        self.days: set[date] = set()
        self.warnings: dict[str, int] = {}
        """Values dropped as impossible (the span and its call are stored without them): reason -> count."""
        self.resources: dict[int, tuple[dict[str, Any], str]] = {}
        """The builder's cache: JSON of each resource, by identity (the spans of one ResourceSpans share one decoded
        dict, which stays alive, so its id stays unique, as long as the batch is being built from them)."""

    def __len__(self) -> int:
        return len(self.spans)

    def warn(self, reason: str) -> None:
        self.warnings[reason] = self.warnings.get(reason, 0) + 1

    @property
    def warning_message(self) -> str:
        """The warnings as one line for `partial_success.error_message` (empty when there are none)."""
        if not self.warnings:
            return ""
        parts = [f"{reason} ({count})" for reason, count in list(self.warnings.items())[:_MAX_WARNINGS]]
        return f"{sum(self.warnings.values())} value(s) dropped as impossible: " + "; ".join(parts)

    @property
    def content_bytes(self) -> int:
        """UTF-8 bytes of the distinct content bodies in this batch."""
        return sum(blob.bytes for blob in self.blobs.values())
