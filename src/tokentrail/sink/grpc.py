"""OTLP/gRPC: a `TraceService` server sharing the pipeline with OTLP/HTTP (`--grpc-port`), and `MetricsService` and
`LogsService`, which accept and drop (the token is checked; then an empty response).

Outcomes map to status codes: 401 UNAUTHENTICATED, 503 UNAVAILABLE (the exporter retries it), anything else
refused INVALID_ARGUMENT; a 200 answers `partial_success` for rejected spans. `grpcio` is imported only when a
gRPC port is configured.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tokentrail.sink.pipeline import ExportOutcome, Sink

__all__ = ["grpc_server"]


def grpc_server(sink: Sink, port: int) -> tuple[Any, int]:
    """An OTLP/gRPC server on `port` (0: any free port): traces through the sink's pipeline, metrics and logs
    accepted and dropped."""
    import grpc
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    async def discard(signal: str, context: Any) -> None:
        """Check the token of a request the sink drops (abort with UNAUTHENTICATED when wrong), and count it."""
        metadata = context.invocation_metadata() or ()
        authorised = sink.authorised([str(value) for key, value in metadata if key.lower() == "authorization"])
        sink.metrics.discarded.labels("grpc", signal, "200" if authorised else "401").inc()
        if not authorised:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")

    class MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
        async def Export(self, request: Any, context: Any) -> Any:
            await discard("metrics", context)
            return metrics_service_pb2.ExportMetricsServiceResponse()

    class LogsService(logs_service_pb2_grpc.LogsServiceServicer):
        async def Export(self, request: Any, context: Any) -> Any:
            await discard("logs", context)
            return logs_service_pb2.ExportLogsServiceResponse()

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
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(MetricsService(), server)  # type: ignore[no-untyped-call]
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(LogsService(), server)  # type: ignore[no-untyped-call]
    bound = server.add_insecure_port(f"{sink.config.host}:{port}")
    return server, int(bound)
