"""HTTP plumbing of the stand-in: the threading server, reading bodies, writing heads, JSON, errors and chunked
streams (stdlib `http.server`, HTTP/1.1 keep-alive, one thread per connection)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

from tokentrail.dev.standin._platforms import bedrock_error_type, vertex_rate_limit_body
from tokentrail.dev.standin._recording import Flavour
from tokentrail.dev.standin._replies import error_body
from tokentrail.dev.standin._scripts import ErrorReply

if TYPE_CHECKING:
    from tokentrail.dev.standin._server import StandinServer

__all__ = ["MAX_BODY_BYTES", "Abort", "StandinHTTPServer", "Transport", "reason_phrase"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 1024 * 1024
"""The API's request size limit; larger bodies get 413 request_too_large."""

_REASONS = {529: "Overloaded"}


class Abort(Exception):
    """The exchange ends with this HTTP error (raised while validating a request)."""

    def __init__(
        self, status: int, message: str, error_type: str | None = None, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.reply = ErrorReply(
            status=status, message=message, error_type=error_type, retry_after_ms=None, details=details
        )


class StandinHTTPServer(ThreadingHTTPServer):
    """The listening socket and its handler threads, with a reference back to the `StandinServer`."""

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 256  # the default listen backlog (5) drops connections under concurrent load

    def __init__(self, address: tuple[str, int], standin: StandinServer, handler: type[BaseHTTPRequestHandler]) -> None:
        self.standin = standin
        super().__init__(address, handler)


def reason_phrase(status: int) -> str:
    """The reason phrase for a status (529 included, which `http` does not know)."""
    if status in _REASONS:
        return _REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class Transport(BaseHTTPRequestHandler):
    """One connection's request handler, minus the API: what every response is written with."""

    protocol_version = "HTTP/1.1"
    server_version = "tokentrail-standin"
    disable_nagle_algorithm = True

    request_id: str
    flavour: Flavour
    latency_s: float
    _sent: bool
    _latency_done: bool
    _started: float

    # --- plumbing -----------------------------------------------------------------------------------------
    @property
    def standin(self) -> StandinServer:
        return cast(StandinHTTPServer, self.server).standin

    def setup(self) -> None:
        super().setup()
        self.standin._track(self.connection, alive=True)

    def finish(self) -> None:
        self.standin._track(self.connection, alive=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("stand-in: " + format, *args)

    def do_GET(self) -> None:
        self._exchange()

    def do_POST(self) -> None:
        self._exchange()

    def do_DELETE(self) -> None:
        self._exchange()

    def do_PUT(self) -> None:
        self._exchange()

    def do_PATCH(self) -> None:
        self._exchange()

    def _exchange(self) -> None:
        """Answer one request (the subclass routes it)."""
        raise NotImplementedError

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            size = 0
            while True:
                try:
                    length = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    self.close_connection = True
                    raise Abort(400, "malformed chunked request body") from None
                if length == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                size += length
                if size > MAX_BODY_BYTES:
                    self.close_connection = True
                    raise Abort(413, "Request exceeds the maximum allowed number of bytes.")
                parts.append(self.rfile.read(length))
                self.rfile.readline()
            return b"".join(parts)
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            self.close_connection = True
            raise Abort(400, "content-length: not a number") from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise Abort(413, "Request exceeds the maximum allowed number of bytes.")
        return self.rfile.read(length) if length else b""

    def _head(self, status: int, content_type: str | None, extra: Mapping[str, str], length: int | None) -> bytes:
        reason = reason_phrase(status)
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"date: {formatdate(usegmt=True)}",
            f"server: {self.server_version}",
            f"request-id: {self.request_id}",
        ]
        if self.flavour == "bedrock":
            lines.append(f"x-amzn-requestid: {self.request_id}")
        if content_type is not None:
            lines.append(f"content-type: {content_type}")
        if length is None:
            lines.append("transfer-encoding: chunked")
        else:
            lines.append(f"content-length: {length}")
        lines.extend(f"{name}: {value}" for name, value in extra.items())
        if self.close_connection:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _elapsed_ms(self) -> int:
        return round((time.monotonic() - self._started) * 1000)

    def _wait_latency(self) -> None:
        if not self._latency_done:
            self._latency_done = True
            self.standin._sleep(self.latency_s)

    def _send(self, status: int, body: bytes, content_type: str, extra: Mapping[str, str] | None = None) -> None:
        self._wait_latency()
        self.wfile.write(self._head(status, content_type, extra or {}, len(body)) + body)
        self._sent = True

    def _send_json(self, status: int, obj: Any, extra: Mapping[str, str] | None = None) -> None:
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
        self._send(status, body, "application/json", extra)

    def _send_error(self, reply: ErrorReply) -> None:
        headers: dict[str, str] = {}
        retry_after = reply.retry_after
        if retry_after is None and reply.status in (429, 529):
            retry_after = 1
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        if reply.retry_after_ms is not None:
            headers["retry-after-ms"] = f"{reply.retry_after_ms:g}"
        if reply.should_retry is not None:
            headers["x-should-retry"] = "true" if reply.should_retry else "false"
        if reply.status == 429:
            headers["anthropic-ratelimit-requests-remaining"] = "0"
        headers.update(reply.headers)
        if self.flavour == "bedrock":
            headers["x-amzn-errortype"] = bedrock_error_type(reply.status)
            self._send_json(reply.status, {"message": reply.text}, headers)
        elif self.flavour == "vertex" and reply.status == 429:
            self._send_json(429, vertex_rate_limit_body(reply.text), headers)
        else:
            self._send_json(reply.status, error_body(reply.type, reply.text, self.request_id, reply.details), headers)

    def _send_stream(
        self, frames: list[bytes], content_type: str, interval: float, cut: bool, extra: Mapping[str, str]
    ) -> None:
        """A chunked response, one chunk per frame; `cut` drops the connection without the final chunk."""
        self._wait_latency()
        if cut:
            self.close_connection = True
        head = self._head(200, content_type, extra, None)
        chunks = [b"%x\r\n%s\r\n" % (len(frame), frame) for frame in frames]
        end = b"" if cut else b"0\r\n\r\n"
        self._sent = True
        if not interval or len(chunks) < 2:
            # one write: each event is still its own chunk, but the stream costs one system call, not one per event
            self.wfile.write(head + b"".join(chunks) + end)
            return
        self.wfile.write(head + chunks[0])
        for chunk in chunks[1:]:
            self.standin._sleep(interval)
            self.wfile.write(chunk)
        if end:
            self.wfile.write(end)
