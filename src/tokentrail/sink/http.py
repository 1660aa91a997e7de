"""OTLP/HTTP: the Starlette application (`/v1/traces`, `/v1/metrics`, `/v1/logs`, `/healthz`, `/readyz`,
`/metrics`) over the pipeline, and the reading of request bodies.

Answers follow the OTLP/HTTP specification: 200 with an `ExportTraceServiceResponse` (with `partial_success`
for rejected spans) only after the transaction committed; 400 undecodable body; 401 missing or wrong bearer
token (or more than one `authorization` value); 408 body not received in time; 413 body too large after
decompression (or OTLP/JSON with too many values); 415 other content types or encodings; 503 with `Retry-After`
when Postgres is unavailable or the sink is saturated (the collector retries 503 and drops data on 500, so a
database problem is never a 500). 405 wrong method, 404 unknown path. Error bodies are a `google.rpc.Status` in
the request's format.

`/v1/metrics` and `/v1/logs` accept and drop (the sink stores traces only, and an application pointed straight at
it must not log export failures): the same token, content type, size and body checks as `/v1/traces`, then 200
with an empty `ExportMetricsServiceResponse` / `ExportLogsServiceResponse`. They need no database, so they are
never turned away with 503 for one.

Bodies being received hold at most the receive budget together, and each must arrive within `body_timeout` with
no pause longer than `body_idle_timeout` (else 408, connection closed): a stalled client holds a connection and
the bytes it sent, never a processing slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from google.protobuf import json_format
from google.protobuf.message import Message as ProtoMessage
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message

from tokentrail.errors import BodyTimeout, ReceiveBudgetExhausted
from tokentrail.sink.decode import (
    Format,
    PayloadTooLarge,
    RequestError,
    check_decompressed_size,
    decode_request,
    encode_empty_response,
    encode_response,
    media_format,
)
from tokentrail.sink.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from tokentrail.sink.pipeline import ExportOutcome, Sink

__all__ = ["LOGS_PATH", "METRICS_PATH", "TRACES_PATH", "build_app", "receive_body"]

TRACES_PATH = "/v1/traces"
METRICS_PATH = "/v1/metrics"
LOGS_PATH = "/v1/logs"

_GRPC_CODES = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    408: code_pb2.DEADLINE_EXCEEDED,
    413: code_pb2.INVALID_ARGUMENT,
    415: code_pb2.INVALID_ARGUMENT,
    503: code_pb2.UNAVAILABLE,
    500: code_pb2.INTERNAL,
}


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


async def receive_body(sink: Sink, receive: Callable[[], Awaitable[Message]]) -> bytearray:
    """The body of an ASGI request, within the time limits, the size limit and the sink's receive budget."""
    config = sink.config
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
                sink.reserve_receive(len(chunk))
                body += chunk
            if not message.get("more_body", False):
                return body
    finally:
        sink.release_receive(len(body))


def build_app(sink: Sink) -> Starlette:
    """The Starlette application: `/v1/traces`, `/v1/metrics`, `/v1/logs`, `/healthz`, `/readyz`, `/metrics`."""
    config = sink.config

    async def traces(request: Request) -> Response:
        started = time.perf_counter()
        outcome = await _export_http(request)
        sink.metrics.requests.labels("http", str(outcome.status)).inc()
        sink.metrics.request_seconds.observe(time.perf_counter() - started)
        return _http_response(outcome)

    async def _received(request: Request, *, stored: bool) -> ExportOutcome | tuple[Format, bytearray]:
        """The checks every export path makes (token, content type, declared size, readiness when the data is
        `stored`, the body within its limits): the format and the body, or the refusal."""
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
        if fmt is None:  # media_format refused the content type
            assert content_type_error is not None
            return ExportOutcome(content_type_error.status, content_type_error.message)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_body_bytes:
            return ExportOutcome(413, f"request body exceeds {config.max_body_bytes} bytes", format=fmt)
        # Turned away before the body is read when that is already certain; checked again once it is here.
        refusal = sink.refusal() if stored else None
        if refusal is not None:
            refusal.format = fmt
            return refusal
        try:
            body = await receive_body(sink, request.receive)
        except ReceiveBudgetExhausted as exc:
            return ExportOutcome(503, exc.message, retry_after=config.retry_after_busy, format=fmt)
        except BodyTimeout as exc:  # the client stalled: close rather than wait for the rest
            return ExportOutcome(exc.status, exc.message, format=fmt, extra_headers={"Connection": "close"})
        except RequestError as exc:  # 413; uvicorn reads and drops the rest, keeping the connection usable
            return ExportOutcome(exc.status, exc.message, format=fmt)
        except ClientDisconnect:  # nothing was stored and nobody waits for the answer
            return ExportOutcome(400, "client disconnected before sending the whole body", format=fmt)
        refusal = sink.refusal() if stored else None
        if refusal is not None:
            refusal.format = fmt
            return refusal
        return fmt, body

    async def _export_http(request: Request) -> ExportOutcome:
        received = await _received(request, stored=True)
        if isinstance(received, ExportOutcome):
            return received
        fmt, body = received
        async with sink.admitted():
            encoding = request.headers.get("content-encoding")
            content_type = request.headers.get("content-type")

            def parse() -> ExportTraceServiceRequest:
                return decode_request(body, content_type, encoding, config.max_body_bytes)[1]

            return await sink.ingest(parse, fmt)

    def discarding(signal: str, response: type[ProtoMessage]) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint of a signal the sink accepts and drops: every check of `/v1/traces`, then an empty answer."""

        async def endpoint(request: Request) -> Response:
            received = await _received(request, stored=False)
            if isinstance(received, ExportOutcome):
                answer = _http_response(received)
            else:
                fmt, body = received
                encoding = request.headers.get("content-encoding")
                try:  # in a thread: inflating a large body is CPU work
                    await asyncio.to_thread(check_decompressed_size, body, encoding, config.max_body_bytes)
                except RequestError as exc:
                    answer = _http_response(ExportOutcome(exc.status, exc.message, format=fmt))
                else:
                    answer = Response(encode_empty_response(fmt, response), 200, media_type=fmt.value)
            sink.metrics.discarded.labels("http", signal, str(answer.status_code)).inc()
            return answer

        return endpoint

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
            Route(METRICS_PATH, discarding("metrics", ExportMetricsServiceResponse), methods=["POST"]),
            Route(LOGS_PATH, discarding("logs", ExportLogsServiceResponse), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/readyz", readyz, methods=["GET", "HEAD"]),
            Route("/metrics", metrics, methods=["GET", "HEAD"]),
        ],
        lifespan=lifespan,
    )
