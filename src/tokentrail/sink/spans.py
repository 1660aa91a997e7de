"""OTLP trace requests → spans: every span as plain Python values, the individually invalid ones counted apart.

A span with a bad id length, zero ids or no start time is not an error of the request: it is counted as rejected
and reported through `partial_success`, and the rest of the request is kept. Text is made storable here (Postgres
cannot hold NUL).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

__all__ = ["DecodedSpan", "Extracted", "any_value", "attributes_dict", "extract_spans"]

_TRACE_ID_BYTES = 16
_SPAN_ID_BYTES = 8
_MAX_REJECTION_REASONS = 5


def _clean(text: str) -> str:
    """Postgres text and jsonb cannot hold NUL; replace it rather than lose the value."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def any_value(value: AnyValue) -> Any:
    """An OTLP AnyValue as a JSON-compatible Python value (bytes as base64, non-finite floats as strings)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return _clean(value.string_value)
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else str(number)
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_dict(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def attributes_dict(pairs: Any) -> dict[str, Any]:
    """OTLP `repeated KeyValue` as a dict; a repeated key keeps its last value."""
    result: dict[str, Any] = {}
    item: KeyValue
    for item in pairs:
        result[_clean(item.key)] = any_value(item.value)
    return result


@dataclass(slots=True)
class DecodedSpan:
    """One span with everything the sink keeps, ids as lowercase hex and times as Unix nanoseconds."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    start_ns: int
    end_ns: int
    name: str
    kind: int
    status_code: int
    status_message: str | None
    service_name: str | None
    scope_name: str | None
    scope_version: str | None
    attributes: dict[str, Any]
    resource_attributes: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Extracted:
    """The valid spans of a request, and how many were rejected (with a few distinct reasons)."""

    spans: list[DecodedSpan] = field(default_factory=list)
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected += count
        self.reasons[reason] = self.reasons.get(reason, 0) + count

    @property
    def error_message(self) -> str:
        if not self.rejected:
            return ""
        parts = [f"{reason} ({count})" for reason, count in list(self.reasons.items())[:_MAX_REJECTION_REASONS]]
        return f"{self.rejected} span(s) rejected: " + "; ".join(parts)


def _invalid(span: Span) -> str | None:
    if len(span.trace_id) != _TRACE_ID_BYTES:
        return f"trace_id must be {_TRACE_ID_BYTES} bytes"
    if len(span.span_id) != _SPAN_ID_BYTES:
        return f"span_id must be {_SPAN_ID_BYTES} bytes"
    if not any(span.trace_id):
        return "trace_id must not be all zero"
    if not any(span.span_id):
        return "span_id must not be all zero"
    if span.parent_span_id and len(span.parent_span_id) != _SPAN_ID_BYTES:
        return f"parent_span_id must be empty or {_SPAN_ID_BYTES} bytes"
    if not span.start_time_unix_nano:
        return "start_time_unix_nano is required"
    return None


def _events(span: Span) -> list[dict[str, Any]]:
    return [
        {
            "name": _clean(event.name),
            "time_unix_nano": event.time_unix_nano,
            "attributes": attributes_dict(event.attributes),
        }
        for event in span.events
    ]


def _links(span: Span) -> list[dict[str, Any]]:
    return [
        {
            "trace_id": binascii.hexlify(link.trace_id).decode(),
            "span_id": binascii.hexlify(link.span_id).decode(),
            "attributes": attributes_dict(link.attributes),
        }
        for link in span.links
    ]


def _iter_scope_spans(request: ExportTraceServiceRequest) -> Iterator[tuple[dict[str, Any], Any, Any]]:
    for resource_spans in request.resource_spans:
        resource = attributes_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            yield resource, scope_spans.scope, scope_spans.spans


def extract_spans(request: ExportTraceServiceRequest) -> Extracted:
    """Every span of the request with its resource and scope, valid ones kept, invalid ones counted."""
    result = Extracted()
    for resource, scope, spans in _iter_scope_spans(request):
        service = resource.get("service.name")
        service_name = service if isinstance(service, str) else None
        scope_name = _clean(scope.name) or None
        scope_version = _clean(scope.version) or None
        span: Span
        for span in spans:
            reason = _invalid(span)
            if reason is not None:
                result.reject(reason)
                continue
            start = span.start_time_unix_nano
            result.spans.append(
                DecodedSpan(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex() or None,
                    start_ns=start,
                    end_ns=span.end_time_unix_nano or start,
                    name=_clean(span.name),
                    kind=int(span.kind),
                    status_code=int(span.status.code),
                    status_message=_clean(span.status.message) or None,
                    service_name=service_name,
                    scope_name=scope_name,
                    scope_version=scope_version,
                    attributes=attributes_dict(span.attributes),
                    resource_attributes=resource,
                    events=_events(span) if span.events else [],
                    links=_links(span) if span.links else [],
                )
            )
    return result
