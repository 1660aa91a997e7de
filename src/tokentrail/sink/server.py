"""The tokentrail sink service: OTLP/HTTP (and optionally OTLP/gRPC) in, Postgres rows out.

    tokentrail sink [--host H] [--port P] [--grpc-port G] [--database-url URL]
    python -m tokentrail.sink ...

Answers follow the OTLP/HTTP specification: 200 with an `ExportTraceServiceResponse` (with `partial_success`
for rejected spans) only after the transaction committed; 400 undecodable body; 401 missing or wrong bearer
token (or more than one `authorization` value); 408 body not received in time; 413 body too large after
decompression (or OTLP/JSON with too many values); 415 other content types or encodings; 503 with `Retry-After`
when Postgres is unavailable or the sink is saturated (the collector retries 503 and drops data on 500, so a
database problem is never a 500). 405 wrong method, 404 unknown path.

Memory is bounded twice. Bodies being received hold at most `receive_budget_bytes` together, and each must
arrive within `body_timeout` with no pause longer than `body_idle_timeout` (else 408, connection closed): a
stalled client holds a connection and the bytes it sent, never a processing slot. A fully received request then
takes one of `max_inflight` processing slots (HTTP and gRPC together; each body at most `max_body_bytes` after
decompression); with none free the answer is 503 + `Retry-After`. After a write failed for lack of the
database, requests are turned away with 503 for a short moment instead of each waiting for a connection (a small
circuit breaker); the collector's queue holds them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import logging
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message

from tokentrail.db import migrate
from tokentrail.db.rows import Batch
from tokentrail.db.store import Store, StoreUnavailable
from tokentrail.errors import BodyTimeout, ReceiveBudgetExhausted
from tokentrail.sink import settings as settings_module
from tokentrail.sink.decode import (
    Extracted,
    Format,
    PayloadTooLarge,
    RequestError,
    decode_request,
    encode_response,
    extract_spans,
    media_format,
)
from tokentrail.sink.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from tokentrail.sink.metrics import SinkMetrics
from tokentrail.sink.normalise import Normaliser

__all__ = ["BackgroundSink", "ExportOutcome", "Sink", "SinkConfig", "build_app", "main", "serve"]

log = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class SinkConfig:
    """Everything the sink needs to run; `from_settings` fills it from `tokentrail.sink.settings`."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 4318
    grpc_port: int | None = None
    token: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    max_inflight: int = 8
    """Export requests processed at once (HTTP and gRPC together), counted once the body has arrived; more get
    503 + Retry-After."""
    body_idle_timeout: float = 10.0
    """Longest pause while a request body arrives; a body that stalls longer is answered 408 and closed."""
    body_timeout: float = 60.0
    """Longest time to receive a whole request body (from the end of the headers); then 408 and closed."""
    receive_budget_bytes: int | None = None
    """Bytes of bodies being received at once (not yet processed); beyond it 503. None: max_inflight x
    max_body_bytes."""
    pool_size: int = 4
    acquire_timeout: float = 5.0
    """How long a request waits for a database connection before it is answered 503."""
    retry_after_unavailable: int = 5
    retry_after_busy: int = 1
    breaker_seconds: float = 1.0
    """After a write failed for lack of the database, turn requests away (503) for this long."""
    migrate: bool = True
    drain_timeout: float = 30.0
    """On shutdown, how long in-flight requests may take to finish before the server closes."""

    @classmethod
    def from_settings(cls, settings: settings_module.SinkSettings, database_url: str, **overrides: Any) -> SinkConfig:
        values: dict[str, Any] = {
            "database_url": database_url,
            "host": settings.sink_host,
            "port": settings.sink_port,
            "grpc_port": settings.sink_grpc_port,
            "token": settings.sink_token,
            "max_body_bytes": settings.sink_max_body_bytes,
            "body_idle_timeout": settings.sink_body_idle_timeout,
            "body_timeout": settings.sink_body_timeout,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


@dataclass
class ExportOutcome:
    """The transport-neutral answer to one export request."""

    status: int  # HTTP status; the gRPC servicer maps it to a status code
    message: str = ""
    rejected: int = 0
    retry_after: int | None = None
    format: Format | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


_GRPC_CODES = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    408: code_pb2.DEADLINE_EXCEEDED,
    413: code_pb2.INVALID_ARGUMENT,
    415: code_pb2.INVALID_ARGUMENT,
    503: code_pb2.UNAVAILABLE,
    500: code_pb2.INTERNAL,
}


class Sink:
    """The ingest pipeline shared by both transports: admission, decode, normalise, store, metrics."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.metrics = SinkMetrics()
        self.store = Store(config.database_url, pool_size=config.pool_size, acquire_timeout=config.acquire_timeout)
        self._normaliser: Normaliser | None = None
        self._inflight = 0
        self._receiving_bytes = 0
        self._receive_budget = config.receive_budget_bytes or config.max_inflight * config.max_body_bytes
        self._ready = False
        self._down_until = 0.0
        self._prepare_task: asyncio.Task[None] | None = None
        self._token = config.token.encode() if config.token else None

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._normaliser = await asyncio.to_thread(_make_normaliser)
        self._prepare_task = asyncio.create_task(self._prepare(), name="tokentrail-sink-prepare")

    async def stop(self) -> None:
        if self._prepare_task is not None:
            self._prepare_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prepare_task
        await self.store.close()

    async def _prepare(self) -> None:
        """Apply migrations (or, with migrate off, wait for them), retrying while Postgres is not there yet."""
        delay = 0.5
        while True:
            try:
                if self.config.migrate:
                    applied = await asyncio.to_thread(migrate.upgrade, self.config.database_url)
                    if applied:
                        log.info("applied migrations %s", applied)
                # The pool opens once the schema is there: its connections prepare staging tables from it.
                await self.store.open()
                ready, why = await self.store.ready()
                if ready:
                    self._set_ready(True)
                    return
                log.warning("database not ready: %s", why)
            except Exception as exc:
                log.warning("database not ready (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _set_ready(self, ready: bool) -> None:
        self._ready = ready
        self.metrics.ready.set(1 if ready else 0)

    async def readiness(self) -> tuple[bool, str]:
        if not self._ready:
            return False, "migrations not applied yet (or database unreachable)"
        # short: a readiness probe must answer within its own timeout (often 1 s) even while Postgres is away
        ready, why = await self.store.ready(timeout=min(self.config.acquire_timeout, 0.8))
        self.metrics.ready.set(1 if ready else 0)
        return ready, why

    # -- admission ----------------------------------------------------------------------------------------
    def authorised(self, authorization: Sequence[str]) -> bool:
        """Whether the `authorization` values of a request (all of them: HTTP header or gRPC metadata) carry the
        token. More than one value is refused, so that no transport has to pick one."""
        if self._token is None:
            return True
        if len(authorization) != 1:
            return False
        scheme, _, credential = authorization[0].partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credential.strip().encode(), self._token)

    def refusal(self) -> ExportOutcome | None:
        """A 503 outcome if the sink cannot take a request now (not ready, database just failed, saturated)."""
        if not self._ready:
            return ExportOutcome(503, "database not ready", retry_after=self.config.retry_after_unavailable)
        if time.monotonic() < self._down_until:
            return ExportOutcome(503, "database unavailable", retry_after=self.config.retry_after_unavailable)
        if self._inflight >= self.config.max_inflight:
            return ExportOutcome(503, "sink saturated", retry_after=self.config.retry_after_busy)
        return None

    async def receive_body(self, receive: Callable[[], Awaitable[Message]]) -> bytearray:
        """The body of an ASGI request, within the time limits, the size limit and the receive budget."""
        config = self.config
        loop = asyncio.get_running_loop()
        deadline = loop.time() + config.body_timeout
        body = bytearray()
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise BodyTimeout(f"request body not received within {config.body_timeout:g} s")
                try:
                    message = await asyncio.wait_for(receive(), min(config.body_idle_timeout, remaining))
                except asyncio.TimeoutError:
                    if loop.time() >= deadline:
                        raise BodyTimeout(f"request body not received within {config.body_timeout:g} s") from None
                    raise BodyTimeout(f"request body stalled for {config.body_idle_timeout:g} s") from None
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect
                chunk: bytes = message.get("body", b"")
                if chunk:
                    if len(body) + len(chunk) > config.max_body_bytes:
                        raise PayloadTooLarge(f"request body exceeds {config.max_body_bytes} bytes")
                    if self._receiving_bytes + len(chunk) > self._receive_budget:
                        raise ReceiveBudgetExhausted("sink saturated")
                    self._receiving_bytes += len(chunk)
                    body += chunk
                if not message.get("more_body", False):
                    return body
        finally:
            self._receiving_bytes -= len(body)

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        self._inflight += 1
        self.metrics.inflight.inc()
        try:
            yield
        finally:
            self._inflight -= 1
            self.metrics.inflight.dec()

    # -- the pipeline -------------------------------------------------------------------------------------
    async def ingest(self, parse: Callable[[], ExportTraceServiceRequest], fmt: Format | None) -> ExportOutcome:
        """Decode (in a worker thread: CPU-bound), normalise, write; the outcome is final only after commit."""
        normaliser = self._normaliser
        assert normaliser is not None, "Sink.start() was not awaited"

        def work() -> tuple[Extracted, Batch]:
            extracted = extract_spans(parse())
            return extracted, normaliser.batch(extracted.spans)

        try:
            extracted, batch = await asyncio.to_thread(work)
        except RequestError as exc:
            return ExportOutcome(exc.status, exc.message, format=fmt)
        except Exception:
            return self._internal_fault("decoding", fmt)
        self.metrics.spans_received.inc(len(extracted.spans) + extracted.rejected)
        started = time.perf_counter()
        try:
            result = await self.store.write(batch)
        except StoreUnavailable as exc:
            log.warning("database unavailable, answering 503: %s", exc)
            self._down_until = time.monotonic() + self.config.breaker_seconds
            self.metrics.ready.set(0)
            return ExportOutcome(
                503, "database unavailable", retry_after=self.config.retry_after_unavailable, format=fmt
            )
        except Exception:
            return self._internal_fault("writing", fmt)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        self.metrics.ready.set(1)
        stored_or_duplicate = len(batch.spans) - result.rejected
        self.metrics.spans_stored.inc(result.spans_inserted)
        self.metrics.spans_duplicate.inc(max(stored_or_duplicate - result.spans_inserted, 0))
        self.metrics.llm_calls_stored.inc(result.llm_calls_inserted)
        self.metrics.content_bytes.labels("distinct_in_batch").inc(batch.content_bytes)
        self.metrics.content_bytes.labels("stored_new").inc(result.blob_bytes_inserted)
        rejected = extracted.rejected + result.rejected
        self.metrics.spans_rejected.inc(rejected)
        messages = [m for m in (extracted.error_message, "; ".join(result.reasons), batch.warning_message) if m]
        return ExportOutcome(200, " | ".join(messages), rejected=rejected, format=fmt)

    def _internal_fault(self, stage: str, fmt: Format | None) -> ExportOutcome:
        """A fault of the sink itself (a bug: not the data, not the database). Answered 503, never 500: the
        collector drops a batch answered 500 at once, while a 503 is retried (within its own retry limit), which
        leaves a chance to store it after a restart or a fix. The traceback is logged."""
        log.exception("internal error while %s an export request; answering 503", stage)
        return ExportOutcome(
            503, f"internal error while {stage}", retry_after=self.config.retry_after_unavailable, format=fmt
        )


def _make_normaliser() -> Normaliser:
    try:
        from tokentrail.pricing import default_pricebook

        return Normaliser(default_pricebook())
    except Exception:
        log.exception("pricing unavailable: LLM spans without a cost stay without one")
        return Normaliser(None)


# --- HTTP --------------------------------------------------------------------------------------------------


def _status_body(fmt: Format | None, http_status: int, message: str) -> tuple[bytes, str]:
    status = status_pb2.Status(code=_GRPC_CODES.get(http_status, code_pb2.UNKNOWN), message=message)
    if fmt is Format.JSON:
        return str(json_format.MessageToJson(status, indent=None)).encode(), Format.JSON.value
    if fmt is Format.PROTOBUF:
        return bytes(status.SerializeToString()), Format.PROTOBUF.value
    return message.encode(), "text/plain; charset=utf-8"


def _http_response(outcome: ExportOutcome) -> Response:
    headers = dict(outcome.extra_headers)
    if outcome.retry_after is not None:
        headers["Retry-After"] = str(outcome.retry_after)
    if outcome.status == 200:
        fmt = outcome.format or Format.PROTOBUF
        body = encode_response(fmt, outcome.rejected, outcome.message)
        return Response(body, 200, headers=headers, media_type=fmt.value)
    body, media = _status_body(outcome.format, outcome.status, outcome.message)
    return Response(body, outcome.status, headers=headers, media_type=media)


def build_app(sink: Sink) -> Starlette:
    """The Starlette application: `/v1/traces`, `/healthz`, `/readyz`, `/metrics`."""
    config = sink.config

    async def traces(request: Request) -> Response:
        started = time.perf_counter()
        outcome = await _export_http(request)
        sink.metrics.requests.labels("http", str(outcome.status)).inc()
        sink.metrics.request_seconds.observe(time.perf_counter() - started)
        return _http_response(outcome)

    async def _export_http(request: Request) -> ExportOutcome:
        headers = request.headers
        try:
            fmt: Format | None = media_format(headers.get("content-type"))
        except RequestError as exc:
            fmt = None
            content_type_error: RequestError | None = exc
        else:
            content_type_error = None
        if not sink.authorised(headers.getlist("authorization")):
            return ExportOutcome(
                401, "missing or invalid bearer token", format=fmt, extra_headers={"WWW-Authenticate": "Bearer"}
            )
        if content_type_error is not None:
            return ExportOutcome(content_type_error.status, content_type_error.message)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_body_bytes:
            return ExportOutcome(413, f"request body exceeds {config.max_body_bytes} bytes", format=fmt)
        # Turned away before the body is read when that is already certain; checked again once it is here.
        refusal = sink.refusal()
        if refusal is not None:
            refusal.format = fmt
            return refusal
        try:
            body = await sink.receive_body(request.receive)
        except ReceiveBudgetExhausted as exc:
            return ExportOutcome(503, exc.message, retry_after=config.retry_after_busy, format=fmt)
        except BodyTimeout as exc:  # the client stalled: close rather than wait for the rest
            return ExportOutcome(exc.status, exc.message, format=fmt, extra_headers={"Connection": "close"})
        except RequestError as exc:  # 413; uvicorn reads and drops the rest, keeping the connection usable
            return ExportOutcome(exc.status, exc.message, format=fmt)
        except ClientDisconnect:  # nothing was stored and nobody waits for the answer
            return ExportOutcome(400, "client disconnected before sending the whole body", format=fmt)
        refusal = sink.refusal()
        if refusal is not None:
            refusal.format = fmt
            return refusal
        async with sink.admitted():
            encoding = headers.get("content-encoding")
            content_type = headers.get("content-type")

            def parse() -> ExportTraceServiceRequest:
                return decode_request(body, content_type, encoding, config.max_body_bytes)[1]

            return await sink.ingest(parse, fmt)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        ready, why = await sink.readiness()
        return JSONResponse({"ready": ready, "detail": why}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        return Response(sink.metrics.render(), media_type=METRICS_CONTENT_TYPE)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sink.start()
        try:
            yield
        finally:
            await sink.stop()

    return Starlette(
        routes=[
            Route(TRACES_PATH, traces, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/readyz", readyz, methods=["GET", "HEAD"]),
            Route("/metrics", metrics, methods=["GET", "HEAD"]),
        ],
        lifespan=lifespan,
    )


# --- gRPC --------------------------------------------------------------------------------------------------


def _grpc_server(sink: Sink, port: int) -> tuple[Any, int]:
    """An OTLP/gRPC TraceService server on `port` (0: any free port) sharing the sink's pipeline."""
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
        async def Export(self, request: ExportTraceServiceRequest, context: Any) -> Any:
            started = time.perf_counter()
            outcome = await self._export(request, context)
            sink.metrics.requests.labels("grpc", str(outcome.status)).inc()
            sink.metrics.request_seconds.observe(time.perf_counter() - started)
            if outcome.status != 200:
                code = {401: grpc.StatusCode.UNAUTHENTICATED, 503: grpc.StatusCode.UNAVAILABLE}.get(
                    outcome.status, grpc.StatusCode.INVALID_ARGUMENT
                )
                await context.abort(code, outcome.message)
            response = ExportTraceServiceResponse()
            if outcome.rejected or outcome.message:
                response.partial_success.rejected_spans = outcome.rejected
                response.partial_success.error_message = outcome.message
            return response

        async def _export(self, request: ExportTraceServiceRequest, context: Any) -> ExportOutcome:
            metadata = context.invocation_metadata() or ()
            if not sink.authorised([str(value) for key, value in metadata if key.lower() == "authorization"]):
                return ExportOutcome(401, "missing or invalid bearer token")
            refusal = sink.refusal()
            if refusal is not None:
                return refusal
            async with sink.admitted():
                return await sink.ingest(lambda: request, None)

    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", sink.config.max_body_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ]
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(), server)  # type: ignore[no-untyped-call]
    bound = server.add_insecure_port(f"{sink.config.host}:{port}")
    return server, int(bound)


# --- running -------------------------------------------------------------------------------------------------


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the listening socket says TCP
    # (else Nagle holds a small answer's body behind its head for a delayed ACK, ~40 ms per answer).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(
    config: SinkConfig,
    *,
    sock: socket.socket | None = None,
    on_started: Callable[[int, int | None], Awaitable[None] | None] | None = None,
    should_exit: threading.Event | None = None,
) -> None:
    """Run the sink until SIGINT/SIGTERM (or `should_exit`): drain in-flight requests, then close the pool."""
    import uvicorn

    sink = Sink(config)
    app = build_app(sink)
    uv_config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(config.drain_timeout),
        server_header=False,
    )
    server = uvicorn.Server(uv_config)
    sock = sock or _bind(config.host, config.port)
    http_port = int(sock.getsockname()[1])
    grpc_server = None
    grpc_port: int | None = None
    if config.grpc_port is not None:
        grpc_server, grpc_port = _grpc_server(sink, config.grpc_port)

    async def watch() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        if grpc_server is not None:
            await grpc_server.start()
        log.warning(
            "tokentrail sink listening on http://%s:%d%s%s",
            config.host,
            http_port,
            TRACES_PATH,
            f" and grpc {config.host}:{grpc_port}" if grpc_port else "",
        )
        if on_started is not None:
            maybe = on_started(http_port, grpc_port)
            if maybe is not None:
                await maybe
        while should_exit is not None and not server.should_exit:
            if should_exit.is_set():
                server.should_exit = True
                break
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    try:
        await server.serve(sockets=[sock])
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        if grpc_server is not None:
            await grpc_server.stop(config.drain_timeout)


class BackgroundSink:
    """A sink running in a background thread (tests, benchmarks, the demo): `start()` returns the base URL."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.port: int | None = None
        self.grpc_port: int | None = None
        self._exit = threading.Event()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the sink is not started")
        return f"http://{self.config.host}:{self.port}"

    @property
    def traces_url(self) -> str:
        return self.url + TRACES_PATH

    def start(self, timeout: float = 30.0) -> str:
        sock = _bind(self.config.host, self.config.port)

        def on_started(http_port: int, grpc_port: int | None) -> None:
            self.port, self.grpc_port = http_port, grpc_port
            self._started.set()

        def run() -> None:
            try:
                asyncio.run(serve(self.config, sock=sock, on_started=on_started, should_exit=self._exit))
            except BaseException as exc:
                self._error = exc
                self._started.set()
                raise

        self._thread = threading.Thread(target=run, name="tokentrail-sink", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout) or self._error is not None:
            self.stop()
            raise RuntimeError(f"the sink did not start: {self._error!r}")
        return self.url

    def stop(self, timeout: float = 60.0) -> None:
        self._exit.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> BackgroundSink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokentrail sink",
        description="Receive OTLP traces and store every span (and every LLM call as a typed row) in Postgres.",
        epilog="The bearer token is read from TOKENTRAIL_SINK_TOKEN only (never from the command line).",
    )
    parser.add_argument("--host", help="address to listen on (TOKENTRAIL_SINK_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="OTLP/HTTP port (TOKENTRAIL_SINK_PORT, default 4318)")
    parser.add_argument("--grpc-port", type=int, help="also serve OTLP/gRPC on this port (TOKENTRAIL_SINK_GRPC_PORT)")
    parser.add_argument(
        "--database-url",
        help="Postgres URL (TOKENTRAIL_DATABASE_URL); without one, the embedded Postgres under TOKENTRAIL_DATA_DIR",
    )
    parser.add_argument("--max-body-bytes", type=_positive, help="request size limit after decompression")
    parser.add_argument("--max-inflight", type=_positive, help="export requests processed at once (default 8)")
    parser.add_argument("--pool-size", type=_positive, help="Postgres connections (default 4)")
    parser.add_argument(
        "--body-idle-timeout", type=_seconds, help="longest pause while a body arrives, else 408 (default 10)"
    )
    parser.add_argument("--body-timeout", type=_seconds, help="longest time to receive a body, else 408 (default 60)")
    parser.add_argument(
        "--receive-budget-bytes",
        type=_positive,
        help="bytes of bodies being received at once, else 503 (default max-inflight x max-body-bytes)",
    )
    parser.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    parser.add_argument("--log-level", default="INFO", help="default INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    """`tokentrail sink`: run until interrupted; 0 on a clean shutdown, 2 for bad arguments or settings."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)  # one line per failed reconnect is our job
    try:
        settings = settings_module.load(
            database_url=args.database_url,
            sink_host=args.host,
            sink_port=args.port,
            sink_grpc_port=args.grpc_port,
            sink_max_body_bytes=args.max_body_bytes,
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    embedded = None
    database_url = settings.database_url
    if database_url is None:
        from tokentrail.db.embedded import EmbeddedPostgres, EmbeddedPostgresError

        embedded = EmbeddedPostgres(settings.data_dir)
        try:
            database_url = embedded.start()
        except EmbeddedPostgresError as exc:
            log.error("%s", exc)
            return 2
        log.info("using the embedded Postgres at %s", database_url)
    config = SinkConfig.from_settings(
        settings,
        database_url,
        max_inflight=args.max_inflight,
        pool_size=args.pool_size,
        body_idle_timeout=args.body_idle_timeout,
        body_timeout=args.body_timeout,
        receive_budget_bytes=args.receive_budget_bytes,
        migrate=False if args.no_migrate else None,
    )
    # uvicorn drains on SIGINT/SIGTERM, then re-raises the signal: turn that into a clean exit so that the
    # embedded cluster (if any) is stopped too.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        asyncio.run(serve(config))
    except (KeyboardInterrupt, _Terminated):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if embedded is not None:
            embedded.stop()
    return 0


class _Terminated(Exception):
    pass


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


if __name__ == "__main__":
    raise SystemExit(main())
