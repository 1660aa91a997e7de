"""Decoding untrusted OTLP/HTTP bodies: formats, compression limits, id handling, and fuzzing."""

from __future__ import annotations

import gzip
import json
import math
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.fixtures import otlp
from tokentrail.sink import decode
from tokentrail.sink.decode import BadRequest, Format, PayloadTooLarge, RequestError, UnsupportedMediaType
from tokentrail.sink.spans import Extracted, extract_spans

LIMIT = 1 << 20


def _extract(body: bytes, content_type: str = "application/x-protobuf", encoding: str | None = None) -> Extracted:
    _, request = decode.decode_request(body, content_type, encoding, LIMIT)
    return extract_spans(request)


def test_protobuf_span_is_extracted_with_resource_scope_and_typed_attributes() -> None:
    tid, sid = otlp.new_ids()
    parent = b"\x01" * 8
    attrs = {"s": "x", "i": 7, "f": 0.5, "b": True, "list": ["a", 1], "map": {"k": "v"}, "raw": b"\x00\xff"}
    span = otlp.span("chat m", trace_id=tid, span_id=sid, parent_span_id=parent, attributes=attrs)
    span.events.add(name="exception", time_unix_nano=otlp.T0 + 5).attributes.extend(
        otlp.key_values({"exception.message": "boom"})
    )
    extracted = _extract(otlp.body(otlp.request([span], service="svc", scope="scope-a")))

    assert extracted.rejected == 0
    [got] = extracted.spans
    assert (got.trace_id, got.span_id, got.parent_span_id) == (tid.hex(), sid.hex(), parent.hex())
    assert (got.service_name, got.scope_name, got.scope_version) == ("svc", "scope-a", "0.1.0")
    assert got.attributes == {"s": "x", "i": 7, "f": 0.5, "b": True, "list": ["a", 1], "map": {"k": "v"}, "raw": "AP8="}
    assert got.resource_attributes == {"service.name": "svc"}
    assert got.events == [
        {"name": "exception", "time_unix_nano": otlp.T0 + 5, "attributes": {"exception.message": "boom"}}
    ]
    assert got.end_ns - got.start_ns == 250_000_000


def test_otlp_json_uses_hex_ids_integer_enums_and_ignores_unknown_fields() -> None:
    tid, sid, parent = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "eee19b7ec3c1b173"
    doc = otlp.json_span(tid, sid, "chat m", {"n": 5, "x": 1.5}, parentSpanId=parent, futureField={"a": 1})
    extracted = _extract(otlp.json_request([doc]), "application/json; charset=utf-8")

    [got] = extracted.spans
    assert (got.trace_id, got.span_id, got.parent_span_id) == (tid, sid, parent)
    assert got.kind == 3
    assert got.status_code == 1
    assert got.attributes == {"n": 5, "x": 1.5}


def test_wrong_id_lengths_are_rejected_per_span_not_per_request() -> None:
    good = otlp.span("good")
    bad_trace = otlp.span("bad", trace_id=b"\x01" * 15)
    bad_span = otlp.span("bad", span_id=b"\x01" * 9)
    zero = otlp.span("bad", trace_id=b"\x00" * 16)
    bad_parent = otlp.span("bad", parent_span_id=b"\x01" * 3)
    no_start = otlp.span("bad", start_ns=0)
    extracted = _extract(otlp.body(otlp.request([good, bad_trace, bad_span, zero, bad_parent, no_start])))

    assert [s.name for s in extracted.spans] == ["good"]
    assert extracted.rejected == 5
    assert "trace_id must be 16 bytes (1)" in extracted.error_message
    assert "span_id must be 8 bytes (1)" in extracted.error_message


def test_invalid_hex_id_in_json_rejects_that_span_only() -> None:
    good = otlp.json_span("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "good", {})
    bad = otlp.json_span("zz" * 16, "eee19b7ec3c1b174", "bad", {})
    extracted = _extract(otlp.json_request([good, bad]), "application/json")
    assert [s.name for s in extracted.spans] == ["good"]
    assert extracted.rejected == 1


def test_nul_characters_and_non_finite_floats_become_storable_values() -> None:
    span = otlp.span("a\x00b", attributes={"k\x00": "v\x00", "nan": math.nan, "inf": -math.inf})
    [got] = _extract(otlp.body(otlp.request([span]))).spans
    assert got.name == "a\ufffdb"
    assert got.attributes == {"k\ufffd": "v\ufffd", "nan": "nan", "inf": "-inf"}


def test_gzip_and_deflate_bodies_including_concatenated_gzip_members() -> None:
    raw = otlp.body(otlp.request([otlp.span("one")]))
    assert len(_extract(gzip.compress(raw), encoding="gzip").spans) == 1
    assert len(_extract(zlib.compress(raw), encoding="deflate").spans) == 1
    half = len(raw) // 2
    assert decode.decompress(gzip.compress(raw[:half]) + gzip.compress(raw[half:]), "gzip", LIMIT) == raw


def test_gzip_bomb_is_stopped_at_the_limit() -> None:
    bomb = gzip.compress(b"\x00" * (50 * LIMIT))  # ~50 KiB that inflates to 50 MiB
    assert len(bomb) < LIMIT
    with pytest.raises(PayloadTooLarge):
        decode.decompress(bomb, "gzip", LIMIT)


def test_identity_body_over_the_limit_is_413() -> None:
    with pytest.raises(PayloadTooLarge):
        decode.decompress(b"x" * (LIMIT + 1), None, LIMIT)


@pytest.mark.parametrize("data", [b"not gzip at all", gzip.compress(b"payload" * 100)[:-12]])
def test_bad_or_truncated_gzip_is_400(data: bytes) -> None:
    with pytest.raises(BadRequest):
        decode.decompress(data, "gzip", LIMIT)


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/protobuf", "application/grpc"])
def test_other_content_types_are_415(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        decode.media_format(content_type)


def test_unknown_content_encoding_is_415() -> None:
    with pytest.raises(UnsupportedMediaType):
        decode.decompress(b"abc", "br", LIMIT)


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'"x"',
        b'{"resourceSpans": 5}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 7}]}]}]}',
    ],
)
def test_malformed_json_is_400(body: bytes) -> None:
    with pytest.raises(BadRequest):
        decode.parse(body, Format.JSON)


def test_deeply_nested_json_is_400_not_a_crash() -> None:
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    with pytest.raises(BadRequest):
        decode.parse(deep, Format.JSON)


def test_response_carries_partial_success_in_both_formats() -> None:
    proto = ExportTraceServiceResponse.FromString(decode.encode_response(Format.PROTOBUF, 3, "bad ids"))
    assert (proto.partial_success.rejected_spans, proto.partial_success.error_message) == (3, "bad ids")
    document = json.loads(decode.encode_response(Format.JSON, 2, "why"))
    assert document == {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "why"}}
    assert decode.encode_response(Format.PROTOBUF) == b""


# --- fuzzing ---------------------------------------------------------------------------------------------------

_VALID = otlp.body(
    otlp.request([otlp.span("chat m", attributes=otlp.llm_attributes()), otlp.span("db", attributes={"q": "x" * 300})])
)


def _decode_or_reject(body: bytes, content_type: str, encoding: str | None) -> None:
    """The property: decoding either fails with a RequestError (a 4xx) or yields spans that all have valid ids."""
    error: RequestError | None = None
    try:
        extracted = _extract(body, content_type, encoding)
    except RequestError as exc:
        error = exc
    if error is not None:
        assert 400 <= error.status < 500
        return
    for span in extracted.spans:
        assert len(span.trace_id) == 32
        assert len(span.span_id) == 16
        assert span.start_ns > 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.sampled_from(["application/x-protobuf", "application/json"]))
def test_fuzz_random_bytes(body: bytes, content_type: str) -> None:
    _decode_or_reject(body, content_type, None)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(_VALID)))
def test_fuzz_truncated_protobuf(cut: int) -> None:
    _decode_or_reject(_VALID[:cut], "application/x-protobuf", None)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(_VALID) - 1), st.integers(min_value=0, max_value=255))
def test_fuzz_corrupted_protobuf(position: int, byte: int) -> None:
    corrupted = bytearray(_VALID)
    corrupted[position] = byte
    _decode_or_reject(bytes(corrupted), "application/x-protobuf", None)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512), st.integers(min_value=0, max_value=64))
def test_fuzz_bad_gzip(prefix: bytes, cut: int) -> None:
    compressed = gzip.compress(_VALID)
    _decode_or_reject(prefix + compressed[: len(compressed) - cut], "application/x-protobuf", "gzip")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=40), st.binary(max_size=20), st.binary(max_size=20))
def test_fuzz_id_lengths(trace_id: bytes, span_id: bytes, parent: bytes) -> None:
    span = otlp.span("x", trace_id=trace_id, span_id=span_id, parent_span_id=parent)
    extracted = _extract(otlp.body(otlp.request([span])))
    valid = len(trace_id) == 16 and any(trace_id) and len(span_id) == 8 and any(span_id) and len(parent) in (0, 8)
    assert len(extracted.spans) == (1 if valid else 0)
    assert extracted.rejected == (0 if valid else 1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_fuzz_arbitrary_json_documents(document: object) -> None:
    _decode_or_reject(json.dumps(document).encode(), "application/json", None)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["traceId", "spanId", "name", "kind", "startTimeUnixNano", "attributes"]), json_values
    )
)
def test_fuzz_json_span_fields(fields: dict[str, object]) -> None:
    base = otlp.json_span("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "n", {})
    base.update(fields)
    _decode_or_reject(otlp.json_request([base]), "application/json", None)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=4 * LIMIT))
def test_fuzz_huge_attribute_values(size: int) -> None:
    body = otlp.body(otlp.request([otlp.span("x", attributes={"big": "a" * size})]))
    try:
        extracted = _extract(gzip.compress(body), encoding="gzip")
    except PayloadTooLarge:
        assert len(body) > LIMIT
    else:
        assert len(body) <= LIMIT
        assert len(extracted.spans[0].attributes["big"]) == size


# --- hostile JSON --------------------------------------------------------------------------------------------


def test_lone_surrogates_in_json_become_replacement_characters_and_pairs_survive() -> None:
    tid, sid = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    body = otlp.json_request([otlp.json_span(tid, sid, "n\ud800", {"k\udc00": "a\ud83d\ude00b\ud83d"})])
    raw = body.replace(b"\\ud800", b"\xed\xa0\x80")  # the same surrogate as raw (CESU-8) bytes
    for document in (body, raw):
        [got] = _extract(document, "application/json").spans
        assert got.name == "n\ufffd"
        assert got.attributes == {"k\ufffd": "a\U0001f600b\ufffd"}


def test_json_with_more_values_than_its_share_of_the_limit_is_413() -> None:
    limit = 64 * 1024
    cap = limit // decode.JSON_BYTES_PER_VALUE
    arrays = b'{"resourceSpans": [], "x": [' + b",".join([b"[]"] * cap) + b"]}"
    assert len(arrays) < limit
    with pytest.raises(PayloadTooLarge, match="values"):
        decode.decode_request(arrays, "application/json", None, limit)
    fine = b'{"resourceSpans": [], "x": [' + b",".join([b"[]"] * (cap // 4)) + b"]}"
    assert decode.decode_request(fine, "application/json", None, limit)[1].resource_spans == []


def test_decompressed_body_is_exactly_the_original() -> None:
    raw = otlp.body(otlp.request([otlp.span("x", attributes={"a": "y" * 700_000})]))
    assert bytes(decode.decompress(gzip.compress(raw), "gzip", LIMIT)) == raw
    assert bytes(decode.decompress(zlib.compress(raw), "deflate", LIMIT)) == raw
