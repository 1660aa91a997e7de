"""AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock streams responses.

A message is: total length (uint32), headers length (uint32), CRC32 of those 8 bytes, headers, payload, and a CRC32
of everything before it. Each header is: name length (uint8), name, value type (7 = string), value length
(uint16), value. All integers are big-endian.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = ["BEDROCK_EXCEPTIONS", "chunk_message", "encode_message", "exception_message"]

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")

BEDROCK_EXCEPTIONS: dict[str, str] = {
    "overloaded_error": "serviceUnavailableException",
    "rate_limit_error": "throttlingException",
    "invalid_request_error": "validationException",
    "api_error": "internalServerException",
    "timeout_error": "modelTimeoutException",
}
"""The Bedrock ResponseStream exception that stands for an Anthropic error type mid-stream."""


def _header(name: str, value: str) -> bytes:
    raw_name = name.encode()
    raw_value = value.encode()
    return struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", _STRING, len(raw_value)) + raw_value


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message with string headers."""
    raw_headers = b"".join(_header(name, value) for name, value in headers.items())
    total = _PRELUDE.size + _CRC.size + len(raw_headers) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(raw_headers))
    head = prelude + _CRC.pack(zlib.crc32(prelude)) + raw_headers + payload
    return head + _CRC.pack(zlib.crc32(head))


def chunk_message(event: Mapping[str, Any]) -> bytes:
    """A Bedrock `chunk` event carrying one Messages API stream event (base64 JSON in `bytes`)."""
    data = json.dumps(event, separators=(",", ":")).encode()
    payload = json.dumps({"bytes": base64.b64encode(data).decode("ascii")}).encode()
    headers = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, payload)


def exception_message(error_type: str, message: str) -> bytes:
    """A Bedrock mid-stream exception frame for an Anthropic error type."""
    exception = BEDROCK_EXCEPTIONS.get(error_type, "modelStreamErrorException")
    headers = {":exception-type": exception, ":content-type": "application/json", ":message-type": "exception"}
    return encode_message(headers, json.dumps({"message": message}).encode())
