"""The stand-in HTTP server: stdlib `ThreadingHTTPServer`, HTTP/1.1 keep-alive, one thread per connection."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, cast

from tokentrail.dev.standin._batches import BatchError, BatchStore
from tokentrail.dev.standin._eventstream import chunk_message, exception_message
from tokentrail.dev.standin._replies import (
    SCENARIOS,
    CacheTracker,
    build_message,
    error_body,
    estimate_input_tokens,
    new_id,
    sse,
    stream_events,
)
from tokentrail.dev.standin._scripts import (
    ERROR_TYPES,
    Delay,
    ErrorReply,
    Script,
    StreamCut,
    StreamError,
)

__all__ = ["RecordedRequest", "StandinServer"]

log = logging.getLogger(__name__)

Flavour = Literal["anthropic", "bedrock", "vertex"]

SCENARIO_HEADER = "x-standin-scenario"
LATENCY_HEADER = "x-standin-latency-ms"
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_BODY_BYTES = 32 * 1024 * 1024
"""The API's request size limit; larger bodies get 413 request_too_large."""

_ERROR_STATUS = {error_type: status for status, error_type in ERROR_TYPES.items() if status != 504}
_REASONS = {529: "Overloaded"}
_BEDROCK_MODEL = re.compile(
    r"^(?:(?:us|eu|apac|global|us-gov|jp|au)\.)?(?:anthropic\.)?(?P<name>.+?)(?:-v\d+(?::\d+)?)?$"
)
_BEDROCK_ERRORS = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    413: "ValidationException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
    529: "ServiceUnavailableException",
}
_MESSAGES_ROUTE = re.compile(r"^/v1/messages/?$")
_COUNT_ROUTE = re.compile(r"^/v1/messages/count_tokens/?$")
_BATCHES_ROUTE = re.compile(r"^/v1/messages/batches/?$")
_BATCH_ROUTE = re.compile(r"^/v1/messages/batches/(?P<id>[^/]+)(?P<action>/results|/cancel)?/?$")
_MODELS_ROUTE = re.compile(r"^/v1/models(?:/(?P<id>[^/]+))?/?$")
_BEDROCK_ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>invoke|invoke-with-response-stream)/?$")
_VERTEX_ROUTE = re.compile(
    r"^(?:/v1(?:beta1)?)?/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)"
    r"/publishers/anthropic/models/(?P<model>[^/:]+):(?P<op>rawPredict|streamRawPredict)/?$"
)
_MODELS = (
    ("claude-opus-4-6", "Claude Opus 4.6"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the stand-in received (headers with lower-case names; `json` is the parsed body or None)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    json: Any
    flavour: Flavour


class _Abort(Exception):
    """The exchange ends with this HTTP error (raised while validating a request)."""

    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.reply = ErrorReply(status=status, message=message, error_type=error_type, retry_after_ms=None)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 256  # the default listen backlog (5) drops connections under concurrent load

    def __init__(self, address: tuple[str, int], standin: StandinServer) -> None:
        self.standin = standin
        super().__init__(address, _Handler)


def _reason(status: int) -> str:
    if status in _REASONS:
        return _REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class StandinServer:
    """A local server speaking the Anthropic Messages API wire format (first-party, Bedrock and Vertex paths).

    Use it as a context manager or with `start()` / `stop()`. `enqueue()` scripts the outcomes of the next
    requests (first in, first out); without a script every request gets the default reply derived from it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_s: float = 0.0,
        batch_processing_s: float = 0.0,
        max_recorded: int = 1000,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.latency_s = latency_s
        """Added before every response's first byte (time to first token in streams)."""
        self.batch_processing_s = batch_processing_s
        """How long a new batch stays `in_progress` (it is always `in_progress` in the create response)."""
        self._initial = (latency_s, batch_processing_s)
        self._lock = threading.Lock()
        self._scripts: deque[Script] = deque()
        self._requests: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self._failed_once: OrderedDict[str, None] = OrderedDict()
        self.cache = CacheTracker()
        self._batches = BatchStore(self.cache)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> StandinServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self._requested_port), self)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="tokentrail-standin", daemon=True
        )
        self._thread.start()
        log.debug("stand-in listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving: close idle keep-alive connections, interrupt delays, wait for the handler threads."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if thread is not None:
            thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the stand-in server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT`, the `base_url` for `anthropic.Anthropic`, `AnthropicBedrock` and `AnthropicVertex`."""
        return f"http://{self.host}:{self.port}"

    # --- scripting and inspection -------------------------------------------------------------------------
    def enqueue(self, *scripts: Script) -> None:
        """The next requests get these outcomes, in order; after them, the default reply.

        Message endpoints take any script. Other endpoints (count_tokens, batches, models) take only an
        `ErrorReply` (or a `Delay` before one or before the normal answer) and leave other scripts queued.
        """
        with self._lock:
            self._scripts.extend(scripts)

    @property
    def pending(self) -> int:
        """How many scripts are still queued."""
        with self._lock:
            return len(self._scripts)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far (the most recent `max_recorded`), oldest first."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget scripts, recorded requests, batches and cached prefixes; restore the initial latency."""
        with self._lock:
            self._scripts.clear()
            self._requests.clear()
            self._failed_once.clear()
            self.latency_s, self.batch_processing_s = self._initial
        self.cache.clear()
        self._batches.clear()

    # --- used by the handler ------------------------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _take_script(self, message_endpoint: bool) -> Script | None:
        with self._lock:
            if not self._scripts:
                return None
            head = self._scripts[0]
            if (
                message_endpoint
                or isinstance(head, ErrorReply)
                or (isinstance(head, Delay) and (head.then is None or isinstance(head.then, ErrorReply)))
            ):
                return self._scripts.popleft()
            return None

    def _first_failure(self, key: str) -> bool:
        """True the first time `key` is seen (for `rate_limit_once`)."""
        with self._lock:
            if key in self._failed_once:
                return False
            self._failed_once[key] = None
            if len(self._failed_once) > 10_000:
                self._failed_once.popitem(last=False)
            return True

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            if not alive:
                self._connections.discard(conn)
                return
            self._connections.add(conn)
            stopping = self._stopping.is_set()
        if stopping:  # accepted while `stop()` was closing the others: it would not see this one
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
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
        return cast(_HTTPServer, self.server).standin

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

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            size = 0
            while True:
                try:
                    length = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    self.close_connection = True
                    raise _Abort(400, "malformed chunked request body") from None
                if length == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                size += length
                if size > MAX_BODY_BYTES:
                    self.close_connection = True
                    raise _Abort(413, "Request exceeds the maximum allowed number of bytes.")
                parts.append(self.rfile.read(length))
                self.rfile.readline()
            return b"".join(parts)
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            self.close_connection = True
            raise _Abort(400, "content-length: not a number") from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise _Abort(413, "Request exceeds the maximum allowed number of bytes.")
        return self.rfile.read(length) if length else b""

    def _head(self, status: int, content_type: str | None, extra: Mapping[str, str], length: int | None) -> bytes:
        reason = _reason(status)
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
            exception = _BEDROCK_ERRORS.get(reply.status, "InternalServerException")
            headers["x-amzn-errortype"] = f"{exception}:http://internal.amazon.com/coral/com.amazon.bedrock/"
            self._send_json(reply.status, {"message": reply.text}, headers)
        elif self.flavour == "vertex" and reply.status == 429:
            error = {"code": 429, "message": reply.text, "status": "RESOURCE_EXHAUSTED"}
            self._send_json(429, {"error": error}, headers)
        else:
            self._send_json(reply.status, error_body(reply.type, reply.text, self.request_id), headers)

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

    # --- one request --------------------------------------------------------------------------------------
    def _exchange(self) -> None:
        self.request_id = new_id("req_")
        self.flavour = "anthropic"
        self._sent = False
        self._latency_done = False
        self._started = time.monotonic()
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        if path.startswith("/model/"):
            self.flavour = "bedrock"
        elif "/publishers/anthropic/" in path:
            self.flavour = "vertex"
        if self.flavour == "bedrock":
            self.request_id = str(uuid.uuid4())
        self.latency_s = self.standin.latency_s
        body: Any = None
        try:
            raw = self._read_body()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    self.standin._record(RecordedRequest(self.command, path, split.query, headers, None, self.flavour))
                    raise _Abort(400, "There was an error parsing the body of your request as JSON.") from None
            self.standin._record(RecordedRequest(self.command, path, split.query, headers, body, self.flavour))
            latency_ms = headers.get(LATENCY_HEADER)
            if latency_ms:
                try:
                    self.latency_s += max(0.0, float(latency_ms)) / 1000
                except ValueError:
                    raise _Abort(400, f"{LATENCY_HEADER}: {latency_ms!r} is not a number") from None
            self._route(self.command, split.path, headers, body)
        except _Abort as abort:
            if not self._sent:
                self._send_error(abort.reply)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        except Exception:
            log.exception("stand-in: internal error on %s %s", self.command, self.path)
            self.close_connection = True
            if not self._sent:
                with contextlib.suppress(OSError):
                    self._send_error(ErrorReply(500, message="stand-in internal error", retry_after_ms=None))

    def _route(self, method: str, path: str, headers: Mapping[str, str], body: Any) -> None:
        if self.flavour == "anthropic" and path.startswith("/v1/"):
            self._check_first_party(headers)
        if method == "POST" and _MESSAGES_ROUTE.match(path):
            params = self._params(body)
            self._messages(params, headers, str(params["model"]), bool(params.get("stream")), "msg_")
            return
        if method == "POST" and _COUNT_ROUTE.match(path):
            self._count_tokens(self._params(body, count=True), headers)
            return
        if match := _BEDROCK_ROUTE.match(path):
            if method != "POST":
                raise _Abort(404, f"{method} {path} not found", "not_found_error")
            params = self._params(body, model_in_path=True)
            model_id = urllib.parse.unquote(match["model"])  # may be an ARN, with its slashes quoted
            model = _BEDROCK_MODEL.match(model_id.rpartition("/")[2])
            name = model["name"] if model else model_id
            self._messages(params, headers, name, match["op"] == "invoke-with-response-stream", "msg_bdrk_")
            return
        if match := _VERTEX_ROUTE.match(path):
            if method != "POST":
                raise _Abort(404, f"{method} {path} not found", "not_found_error")
            if match["model"] == "count-tokens":
                self._count_tokens(self._params(body, count=True), headers)
                return
            params = self._params(body, model_in_path=True)
            name = urllib.parse.unquote(match["model"]).replace("@", "-")
            streaming = match["op"] == "streamRawPredict" or bool(params.get("stream"))
            self._messages(params, headers, name, streaming, "msg_vrtx_")
            return
        if _BATCHES_ROUTE.match(path) and method in ("POST", "GET"):
            if not self._scripted_other(headers):
                self._batches(method, None, None, body, headers)
            return
        if match := _BATCH_ROUTE.match(path):
            action = match["action"]
            if (method, action) in (("GET", None), ("GET", "/results"), ("POST", "/cancel"), ("DELETE", None)):
                if not self._scripted_other(headers):
                    self._batches(method, urllib.parse.unquote(match["id"]), action, body, headers)
                return
        if (match := _MODELS_ROUTE.match(path)) and method == "GET":
            if not self._scripted_other(headers):
                self._models(urllib.parse.unquote(match["id"]) if match["id"] else None)
            return
        raise _Abort(404, f"{method} {path} not found", "not_found_error")

    # --- validation ---------------------------------------------------------------------------------------
    def _check_first_party(self, headers: Mapping[str, str]) -> None:
        if not (headers.get("x-api-key") or headers.get("authorization")):
            raise _Abort(401, "x-api-key header is required", "authentication_error")
        version = headers.get("anthropic-version")
        if version is None:
            raise _Abort(400, "anthropic-version: header is required")
        if not _API_VERSION.match(version):
            raise _Abort(400, f"anthropic-version: invalid version {version!r}")

    @staticmethod
    def _object(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _Abort(400, "The request body must be a JSON object.")
        return body

    def _params(self, body: Any, count: bool = False, model_in_path: bool = False) -> dict[str, Any]:
        """The request's params, checked as the API checks them (400 invalid_request_error otherwise)."""
        params = self._object(body)
        required = ("messages",) if count else ("messages", "max_tokens")
        if not model_in_path:
            required = ("model", *required)
        for name in required:
            if name not in params:
                raise _Abort(400, f"{name}: Field required")
        if not isinstance(params["messages"], list):
            raise _Abort(400, "messages: Input should be a valid list")
        if not count and (not isinstance(params["max_tokens"], int) or params["max_tokens"] < 1):
            raise _Abort(400, "max_tokens: Input should be greater than or equal to 1")
        return params

    def _scenarios(self, headers: Mapping[str, str]) -> frozenset[str]:
        raw = headers.get(SCENARIO_HEADER)
        if not raw:
            return frozenset()
        names = frozenset(name for name in re.split(r"[,\s]+", raw.strip().lower()) if name)
        unknown = names - SCENARIOS
        if unknown:
            raise _Abort(400, f"{SCENARIO_HEADER}: unknown scenario(s) {', '.join(sorted(unknown))}")
        return names

    def _scenario_error(self, scenarios: frozenset[str], headers: Mapping[str, str], body: Any) -> ErrorReply | None:
        if "overloaded" in scenarios:
            return ErrorReply(529)
        if "rate_limit" in scenarios:
            return ErrorReply(429)
        if "server_error" in scenarios:
            return ErrorReply(500)
        if "invalid_request" in scenarios:
            return ErrorReply(400, message="messages: scripted invalid request (x-standin-scenario)")
        if "authentication" in scenarios:
            return ErrorReply(401)
        if "rate_limit_once" in scenarios:
            retry_count = headers.get("x-stainless-retry-count")
            if retry_count is not None:
                first = retry_count == "0"
            else:
                key = headers.get("idempotency-key") or json.dumps(body, sort_keys=True)
                first = self.standin._first_failure(f"{self.path}\n{key}")
            if first:
                return ErrorReply(429)
        return None

    def _scripted_other(self, headers: Mapping[str, str]) -> bool:
        """Apply a queued error/delay script or an error scenario to a non-message endpoint; True if answered."""
        scenarios = self._scenarios(headers)
        script = self.standin._take_script(message_endpoint=False)
        while isinstance(script, Delay):
            self.standin._sleep(script.seconds)
            script = script.then
        if script is None:
            script = self._scenario_error(scenarios, headers, None)
        if isinstance(script, ErrorReply):
            self._send_error(script)
            return True
        return False

    # --- endpoints ----------------------------------------------------------------------------------------
    def _messages(
        self, params: dict[str, Any], headers: Mapping[str, str], model: str, stream: bool, prefix: str
    ) -> None:
        scenarios = self._scenarios(headers)
        script = self.standin._take_script(message_endpoint=True)
        while isinstance(script, Delay):
            self.standin._sleep(script.seconds)
            script = script.then
        if script is None:
            script = self._scenario_error(scenarios, headers, params)
        if script is None and stream and "stream_error" in scenarios:
            script = StreamError()
        elif script is None and stream and "stream_cut" in scenarios:
            script = StreamCut()
        if isinstance(script, ErrorReply):
            self._send_error(script)
            return
        if isinstance(script, StreamError) and not stream:
            status = _ERROR_STATUS.get(script.error_type, 500)
            self._send_error(ErrorReply(status, error_type=script.error_type, message=script.text))
            return
        reply = script.reply if isinstance(script, (StreamCut, StreamError)) else script
        message = build_message(
            params, reply, model=model, id_prefix=prefix, scenarios=scenarios, cache=self.standin.cache
        )
        extra = dict(reply.headers) if reply is not None else {}
        interval = reply.event_interval_s if reply is not None else 0.0
        if not stream:
            if self.flavour == "bedrock":
                usage = message["usage"]
                extra.setdefault("x-amzn-bedrock-input-token-count", str(usage["input_tokens"]))
                extra.setdefault("x-amzn-bedrock-output-token-count", str(usage["output_tokens"]))
                extra.setdefault("x-amzn-bedrock-invocation-latency", str(self._elapsed_ms()))
            if isinstance(script, StreamCut):
                body = json.dumps(message).encode()
                self._wait_latency()
                self.close_connection = True
                self.wfile.write(self._head(200, "application/json", extra, len(body)) + body[: len(body) // 2])
                self._sent = True
                return
            self._send_json(200, message, extra)
            return
        events = stream_events(message, reply.delta_chars if reply is not None else None)
        cut = isinstance(script, StreamCut)
        if isinstance(script, (StreamCut, StreamError)):
            events = events[: max(0, script.after_events)]
        if self.flavour == "bedrock":
            if events and events[-1][0] == "message_stop":
                usage = message["usage"]
                metrics = {
                    "inputTokenCount": usage["input_tokens"],
                    "outputTokenCount": usage["output_tokens"],
                    "invocationLatency": self._elapsed_ms(),
                    "firstByteLatency": self._elapsed_ms(),
                }
                events[-1] = ("message_stop", {**events[-1][1], "amazon-bedrock-invocationMetrics": metrics})
            frames = [chunk_message(data) for _, data in events]
            if isinstance(script, StreamError):
                frames.append(exception_message(script.error_type, script.text))
            self._send_stream(frames, "application/vnd.amazon.eventstream", interval, cut, extra)
            return
        frames = [sse(name, data) for name, data in events]
        if isinstance(script, StreamError):
            frames.append(sse("error", error_body(script.error_type, script.text, self.request_id)))
        extra.setdefault("cache-control", "no-cache")
        self._send_stream(frames, "text/event-stream; charset=utf-8", interval, cut, extra)

    def _count_tokens(self, params: dict[str, Any], headers: Mapping[str, str]) -> None:
        if not self._scripted_other(headers):
            self._send_json(200, {"input_tokens": estimate_input_tokens(params)})

    # --- batches ------------------------------------------------------------------------------------------
    def _batches(
        self, method: str, batch_id: str | None, action: str | None, body: Any, headers: Mapping[str, str]
    ) -> None:
        store = self.standin._batches
        base_url = self.standin.base_url
        try:
            if batch_id is None and method == "POST":
                beta = "beta=true" in self.path or "anthropic-beta" in headers
                batch = store.create(self._object(body), processing_s=self.standin.batch_processing_s, beta=beta)
                self._send_json(200, store.to_json(batch, base_url))
            elif batch_id is None:
                data = [store.to_json(batch, base_url) for batch in store.newest_first()]
                first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
                self._send_json(200, {"data": data, "has_more": False, "first_id": first, "last_id": last})
            elif method == "DELETE":
                store.delete(batch_id)
                self._send_json(200, {"id": batch_id, "type": "message_batch_deleted"})
            elif action == "/cancel":
                self._send_json(200, store.to_json(store.cancel(batch_id), base_url))
            elif action == "/results":
                lines = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in store.results(batch_id))
                self._send(200, lines.encode(), "application/x-jsonl")
            else:
                self._send_json(200, store.to_json(store.get(batch_id), base_url))
        except BatchError as exc:
            raise _Abort(exc.status, str(exc), exc.error_type) from None

    def _models(self, model_id: str | None) -> None:
        created = "2025-09-29T00:00:00Z"
        models = [{"type": "model", "id": mid, "display_name": name, "created_at": created} for mid, name in _MODELS]
        if model_id is None:
            self._send_json(
                200, {"data": models, "has_more": False, "first_id": models[0]["id"], "last_id": models[-1]["id"]}
            )
            return
        for model in models:
            if model["id"] == model_id:
                self._send_json(200, model)
                return
        raise _Abort(404, f"model: {model_id}", "not_found_error")
