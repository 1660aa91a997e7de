"""OTLP/HTTP trace request decoding: content type, bounded decompression, protobuf or OTLP/JSON, span extraction.

Everything here is pure and synchronous, and every way an untrusted body can be wrong ends in a `RequestError`
with the HTTP status the OTLP/HTTP specification asks for (400, 413, 415), never in another exception.
Spans that are individually invalid (bad id length, zero ids, no start time) are not errors of the request: they
are counted as rejected and reported through `partial_success`, and the rest of the request is kept.

Memory: a body costs its decompressed size plus what parsing builds from it. Protobuf parsing is bounded by the
body (the wire format needs at least two bytes per element); OTLP/JSON is not (`[],` is three bytes and a Python
list of 56), so a JSON body may hold at most one value per `JSON_BYTES_PER_VALUE` bytes of the size limit.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tokentrail.errors import BadRequest, PayloadTooLarge, RequestError, UnsupportedMediaType

__all__ = [
    "JSON_BYTES_PER_VALUE",
    "BadRequest",
    "DecodedSpan",
    "Extracted",
    "Format",
    "PayloadTooLarge",
    "RequestError",
    "UnsupportedMediaType",
    "any_value",
    "decode_request",
    "decompress",
    "encode_response",
    "extract_spans",
    "json_values_bound",
    "media_format",
    "parse",
]

_CHUNK = 256 * 1024
_TRACE_ID_BYTES = 16
_SPAN_ID_BYTES = 8
_MAX_REJECTION_REASONS = 5
JSON_BYTES_PER_VALUE = 16
"""An OTLP/JSON body may hold at most `limit // JSON_BYTES_PER_VALUE` JSON values (typical OTLP/JSON has about one
per 15 bytes), which bounds what `json.loads` and `ParseDict` build from it (about 120 bytes per value)."""


class Format(enum.Enum):
    """The two OTLP/HTTP encodings; the value is the media type, used for the response too."""

    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


def media_format(content_type: str | None) -> Format:
    """The OTLP format of a `Content-Type` header (parameters such as charset are ignored), else 415."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == Format.PROTOBUF.value:
        return Format.PROTOBUF
    if media == Format.JSON.value:
        return Format.JSON
    raise UnsupportedMediaType(
        f"unsupported content type {content_type!r}: use application/x-protobuf or application/json"
    )


def _inflate(body: bytes | bytearray, wbits: int, coding: str, limit: int) -> Iterator[bytes]:
    """The decompressed body in pieces of at most 256 KiB; 413 past `limit` bytes, 400 if invalid or truncated."""
    produced = 0
    data: bytes | bytearray = body
    try:
        while True:
            inflater = zlib.decompressobj(wbits)
            pending = data
            while pending:
                piece = inflater.decompress(pending, min(_CHUNK, limit + 1 - produced))
                produced += len(piece)
                if produced > limit:
                    raise PayloadTooLarge(f"decompressed request body exceeds {limit} bytes")
                yield piece
                pending = inflater.unconsumed_tail
            if not inflater.eof:
                raise BadRequest(f"truncated {coding} body")
            data = inflater.unused_data
            if not data or coding == "deflate" or not data.strip(b"\x00"):
                return
    except zlib.error as exc:
        raise BadRequest(f"invalid {coding} body: {exc}") from None


def decompress(body: bytes | bytearray, encoding: str | None, limit: int) -> bytes | bytearray:
    """Undo `Content-Encoding` (identity, gzip, deflate), producing at most `limit` bytes (else 413).

    Memory: a first pass inflates in steps of 256 KiB and keeps nothing, to learn the size (or that the body is
    too large or invalid: a gzip bomb costs no memory, only the CPU of inflating `limit` bytes); the second fills
    a buffer of exactly that size. Concatenated gzip members (allowed by RFC 1952) are all decoded. The result may
    be the input itself (identity).
    """
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        return body
    if coding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif coding == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise UnsupportedMediaType(f"unsupported content encoding {encoding!r}: use gzip, deflate or identity")
    size = sum(len(piece) for piece in _inflate(body, wbits, coding, limit))
    out = bytearray(size)
    view = memoryview(out)
    position = 0
    for piece in _inflate(body, wbits, coding, limit):
        view[position : position + len(piece)] = piece
        position += len(piece)
    view.release()
    return out


def _hex_to_b64(value: object) -> object:
    """OTLP/JSON ids are hex strings; protobuf's JSON mapping expects base64. Invalid hex becomes an empty id,
    which `extract_spans` rejects per span (partial success) instead of failing the whole request."""
    if not isinstance(value, str):
        return value
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    return base64.b64encode(raw).decode("ascii")


def _fix_ids(item: object, keys: tuple[str, ...]) -> None:
    if isinstance(item, dict):
        for key in keys:
            if key in item:
                item[key] = _hex_to_b64(item[key])


def _list(container: object, *keys: str) -> list[Any]:
    if not isinstance(container, dict):
        return []
    for key in keys:
        value = container.get(key)
        if isinstance(value, list):
            return value
    return []


_SPAN_ID_KEYS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")
_LINK_ID_KEYS = ("traceId", "trace_id", "spanId", "span_id")


def _json_to_proto_ids(document: object) -> None:
    for resource_spans in _list(document, "resourceSpans", "resource_spans"):
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            for span in _list(scope_spans, "spans"):
                _fix_ids(span, _SPAN_ID_KEYS)
                for link in _list(span, "links"):
                    _fix_ids(link, _LINK_ID_KEYS)


# a lone surrogate, escaped (\\ud800) or as raw CESU-8 bytes, which `json.loads` lets through
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_surrogates(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _without_surrogates(document: object) -> object:
    """The document with every unpaired surrogate in a string or key replaced by U+FFFD, as protobuf needs valid
    UTF-8 (`json.loads` has already joined valid pairs). Iterative: nesting is as deep as `json.loads` allowed."""
    fixed = _replace_surrogates(document) if isinstance(document, str) else document
    stack = [fixed]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in list(item):
                value = item.pop(key)
                if isinstance(value, str):
                    value = _replace_surrogates(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
                item[_replace_surrogates(key)] = value
        elif isinstance(item, list):
            for index, value in enumerate(item):
                if isinstance(value, str):
                    item[index] = _replace_surrogates(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
    return fixed


def json_values_bound(body: bytes | bytearray) -> int:
    """An upper bound of the JSON values and object members in `body`, counted in C: every one but the first of
    a container follows a comma, every container starts with a bracket (those inside strings count too)."""
    return body.count(b",") + body.count(b"[") + body.count(b"{") + 1


def parse(body: bytes | bytearray, fmt: Format, *, max_json_values: int | None = None) -> ExportTraceServiceRequest:
    """Parse a decompressed body; any malformation is a 400, an OTLP/JSON body with more than `max_json_values`
    values a 413. Unpaired surrogates in OTLP/JSON strings become U+FFFD instead of failing the request."""
    request = ExportTraceServiceRequest()
    if fmt is Format.PROTOBUF:
        try:
            request.ParseFromString(body)  # type: ignore[arg-type]  # upb reads any buffer: no copy
        except Exception as exc:  # DecodeError, RecursionError, ...: untrusted input, one answer
            raise BadRequest(f"invalid protobuf body: {exc}") from None
        return request
    if max_json_values is not None and json_values_bound(body) > max_json_values:
        raise PayloadTooLarge(
            f"OTLP/JSON body holds more than {max_json_values} values (at most one per {JSON_BYTES_PER_VALUE} bytes"
            " of the size limit): send smaller batches, or protobuf"
        )
    try:
        document = json.loads(body)
        if _MAYBE_SURROGATE.search(body):
            document = _without_surrogates(document)
        _json_to_proto_ids(document)
        if not isinstance(document, dict):
            raise BadRequest("OTLP/JSON body must be an object")
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except BadRequest:
        raise
    except Exception as exc:  # JSONDecodeError, ParseError, UnicodeError, RecursionError, ...
        raise BadRequest(f"invalid OTLP/JSON body: {exc}") from None
    return request


def decode_request(
    body: bytes | bytearray, content_type: str | None, content_encoding: str | None, limit: int
) -> tuple[Format, ExportTraceServiceRequest]:
    """Content type check, decompression with a cap, parsing: the whole decoding of an export request."""
    fmt = media_format(content_type)
    decompressed = decompress(body, content_encoding, limit)
    return fmt, parse(decompressed, fmt, max_json_values=max(limit // JSON_BYTES_PER_VALUE, 1024))


def encode_response(fmt: Format, rejected: int = 0, message: str = "") -> bytes:
    """An `ExportTraceServiceResponse` in the request's format, with `partial_success` when spans were rejected."""
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if fmt is Format.JSON:
        return str(json_format.MessageToJson(response, indent=None)).encode()
    return bytes(response.SerializeToString())


# --- span extraction ----------------------------------------------------------------------------------------


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
