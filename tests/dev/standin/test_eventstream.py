"""AWS event-stream framing, checked against botocore's own decoder."""

from __future__ import annotations

import base64
import json
import struct
import zlib

import pytest

from tokentrail.dev.standin._eventstream import chunk_message, encode_message, exception_message

eventstream = pytest.importorskip("botocore.eventstream")


def decode(data: bytes) -> list[object]:
    buffer = eventstream.EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_frame_layout_and_checksums() -> None:
    frame = encode_message({":event-type": "chunk"}, b"{}")
    total, headers_length = struct.unpack(">II", frame[:8])

    assert total == len(frame)
    assert headers_length == 1 + len(":event-type") + 1 + 2 + len("chunk")
    assert struct.unpack(">I", frame[8:12])[0] == zlib.crc32(frame[:8])
    assert struct.unpack(">I", frame[-4:])[0] == zlib.crc32(frame[:-4])


def test_botocore_decodes_chunks_split_anywhere() -> None:
    events = [{"type": "message_start", "n": 1}, {"type": "ping"}, {"type": "message_stop", "text": "é ✓"}]
    data = b"".join(chunk_message(event) for event in events)
    buffer = eventstream.EventStreamBuffer()
    messages = []
    for start in range(0, len(data), 7):  # feed it in awkward pieces, as the network would
        buffer.add_data(data[start : start + 7])
        messages.extend(buffer)

    assert len(messages) == 3
    for message, event in zip(messages, events, strict=True):
        assert message.headers[":event-type"] == "chunk"
        assert message.headers[":message-type"] == "event"
        assert json.loads(base64.b64decode(json.loads(message.payload)["bytes"])) == event


def test_corrupt_frame_is_rejected() -> None:
    frame = bytearray(chunk_message({"type": "ping"}))
    frame[20] ^= 0xFF

    with pytest.raises(eventstream.ChecksumMismatch):
        decode(bytes(frame))


def test_exception_frame() -> None:
    (message,) = decode(exception_message("rate_limit_error", "slow down"))
    response = message.to_response_dict()

    assert response["status_code"] == 400
    assert message.headers[":exception-type"] == "throttlingException"
    assert json.loads(message.payload) == {"message": "slow down"}


def test_unknown_error_type_maps_to_a_stream_error() -> None:
    (message,) = decode(exception_message("billing_error", "x"))

    assert message.headers[":exception-type"] == "modelStreamErrorException"
