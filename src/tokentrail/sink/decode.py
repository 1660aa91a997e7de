"""OTLP/HTTP trace request decoding: content type, bounded decompression, protobuf or OTLP/JSON (spans from the
decoded request: `tokentrail.sink.spans`); for the signals the sink does not store (metrics, logs), the same size
check and an empty answer.

Everything here is pure and synchronous, and every way an untrusted body can be wrong ends in a `RequestError`
with the HTTP status the OTLP/HTTP specification asks for (400, 413, 415), never in another exception.

Memory: a body costs its decompressed size plus what parsing builds from it. Protobuf parsing is bounded by the
body (the wire format needs at least two bytes per element); OTLP/JSON is not (`[],` is three bytes and a Python
list of 56), so a JSON body may hold at most one value per `JSON_BYTES_PER_VALUE` bytes of the size limit.
"""

from __future__ import annotations

import base64
import enum
import json
import re
import zlib
from collections.abc import Iterator
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tokentrail.errors import BadRequest, PayloadTooLarge, RequestError, UnsupportedMediaType

__all__ = [
    "JSON_BYTES_PER_VALUE",
    "BadRequest",
    "Format",
    "PayloadTooLarge",
    "RequestError",
    "UnsupportedMediaType",
    "decode_request",
    "check_decompressed_size",
    "decompress",
    "encode_empty_response",
    "encode_response",
    "json_values_bound",
    "media_format",
    "parse",
]

_CHUNK = 256 * 1024
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


def _coding(encoding: str | None) -> tuple[str, int | None]:
    """The normalised `Content-Encoding` and its zlib `wbits` (None: identity); 415 for any other encoding."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return coding, None
    if coding in ("gzip", "x-gzip"):
        return coding, 16 + zlib.MAX_WBITS
    if coding == "deflate":
        return coding, zlib.MAX_WBITS
    raise UnsupportedMediaType(f"unsupported content encoding {encoding!r}: use gzip, deflate or identity")


def decompress(body: bytes | bytearray, encoding: str | None, limit: int) -> bytes | bytearray:
    """Undo `Content-Encoding` (identity, gzip, deflate), producing at most `limit` bytes (else 413).

    Memory: a first pass inflates in steps of 256 KiB and keeps nothing, to learn the size (or that the body is
    too large or invalid: a gzip bomb costs no memory, only the CPU of inflating `limit` bytes); the second fills
    a buffer of exactly that size. Concatenated gzip members (allowed by RFC 1952) are all decoded. The result may
    be the input itself (identity).
    """
    coding, wbits = _coding(encoding)
    if wbits is None:
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        return body
    size = sum(len(piece) for piece in _inflate(body, wbits, coding, limit))
    out = bytearray(size)
    view = memoryview(out)
    position = 0
    for piece in _inflate(body, wbits, coding, limit):
        view[position : position + len(piece)] = piece
        position += len(piece)
    view.release()
    return out


def check_decompressed_size(body: bytes | bytearray, encoding: str | None, limit: int) -> None:
    """The checks of `decompress` without keeping the result: 413 past `limit` bytes, 400 invalid or truncated,
    415 unknown encoding. Inflates in steps of 256 KiB, so a gzip bomb costs CPU, not memory."""
    coding, wbits = _coding(encoding)
    if wbits is None:
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        return
    for _ in _inflate(body, wbits, coding, limit):
        pass


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


def encode_empty_response(fmt: Format, response: type[Message]) -> bytes:
    """An empty export response of the given type (`ExportMetricsServiceResponse`, ...) in the request's format:
    the answer to data that was accepted and not stored."""
    if fmt is Format.JSON:
        return str(json_format.MessageToJson(response(), indent=None)).encode()
    return bytes(response().SerializeToString())
