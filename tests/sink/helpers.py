"""Builders for OTLP trace requests (protobuf objects and OTLP/JSON documents) and row counting for sink tests."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from tokentrail import semconv

# 2026-11-22T10:00:00Z in nanoseconds: a fixed day, so partitions are predictable
T0 = 1_795_341_600 * 10**9
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, Mapping):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))
    if isinstance(value, Sequence):
        return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in value]))
    raise TypeError(value)


def key_values(attributes: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


def new_ids() -> tuple[bytes, bytes]:
    return os.urandom(16), os.urandom(8)


def span(
    name: str = "work",
    *,
    trace_id: bytes | None = None,
    span_id: bytes | None = None,
    parent_span_id: bytes = b"",
    start_ns: int = T0,
    duration_ns: int = 250_000_000,
    attributes: Mapping[str, Any] | None = None,
    kind: int = Span.SPAN_KIND_INTERNAL,
    status_code: int = 0,
    status_message: str = "",
) -> Span:
    tid, sid = new_ids()
    result = Span(
        trace_id=tid if trace_id is None else trace_id,
        span_id=sid if span_id is None else span_id,
        parent_span_id=parent_span_id,
        name=name,
        kind=kind,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + duration_ns,
        attributes=key_values(attributes or {}),
    )
    result.status.code = status_code
    result.status.message = status_message
    return result


def llm_attributes(**overrides: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT,
        semconv.GEN_AI_PROVIDER_NAME: semconv.PROVIDER_ANTHROPIC,
        semconv.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
        semconv.GEN_AI_RESPONSE_MODEL: "claude-sonnet-4-5-20250929",
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 1200,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 300,
    }
    attributes.update(overrides)
    return attributes


def request(
    spans: Sequence[Span],
    *,
    service: str = "checkout",
    scope: str = semconv.INSTRUMENTATION_SCOPE,
    scope_version: str = "0.1.0",
) -> ExportTraceServiceRequest:
    resource_spans = ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])
    resource_spans.resource.attributes.extend(key_values({"service.name": service}))
    resource_spans.scope_spans[0].scope.name = scope
    resource_spans.scope_spans[0].scope.version = scope_version
    return ExportTraceServiceRequest(resource_spans=[resource_spans])


def body(req: ExportTraceServiceRequest, *, compress: bool = False) -> bytes:
    raw = req.SerializeToString()
    return gzip.compress(raw) if compress else raw


def json_value(value: Any) -> dict[str, Any]:
    """An OTLP/JSON AnyValue (int64 as a decimal string, as the spec allows)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": [{"key": k, "value": json_value(v)} for k, v in value.items()]}}
    return {"arrayValue": {"values": [json_value(item) for item in value]}}


def json_span(
    trace_id: str, span_id: str, name: str, attributes: Mapping[str, Any], *, start_ns: int = T0, **extra: Any
) -> dict[str, Any]:
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 3,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + 500_000_000),
        "attributes": [{"key": key, "value": json_value(value)} for key, value in attributes.items()],
        "status": {"code": 1},
        **extra,
    }


def json_request(spans: Sequence[Mapping[str, Any]], *, service: str = "checkout", scope: str = "peer") -> bytes:
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": scope, "version": "1.0"}, "spans": list(spans)}],
            }
        ]
    }
    return json.dumps(document).encode()


def count(database_url: str, table: str, where: str = "true") -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()  # test-only, fixed names
    assert row is not None
    return int(row[0])


def counts(database_url: str) -> tuple[int, int, int]:
    return count(database_url, "spans"), count(database_url, "llm_calls"), count(database_url, "content_blobs")
