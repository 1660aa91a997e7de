"""The OTLP/gRPC service: the real gRPC exporter with and without the token, UNAVAILABLE (retried) while
Postgres is away, and metrics and logs accepted and dropped."""

from __future__ import annotations

import time
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.fixtures import otlp
from tests.fixtures.sink import SinkFactory, sdk_spans


def test_otlp_grpc_exporter(sink_factory: SinkFactory, database_url: str) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

    sink = sink_factory(grpc_port=0, token="s3cret")
    assert sink.grpc_port
    endpoint = f"127.0.0.1:{sink.grpc_port}"
    wrong = GrpcExporter(endpoint=endpoint, insecure=True, headers={"authorization": "Bearer nope"}, timeout=5)
    assert wrong.export(sdk_spans(1)) is SpanExportResult.FAILURE
    wrong.shutdown()
    assert otlp.count(database_url, "spans") == 0
    exporter = GrpcExporter(endpoint=endpoint, insecure=True, headers={"authorization": "Bearer s3cret"})
    assert exporter.export(sdk_spans(2)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert otlp.counts(database_url)[:2] == (3, 2)


def test_postgres_outage_over_grpc_is_unavailable_then_the_retry_is_stored_once(
    sink_factory: SinkFactory, pg_cluster: Any, database_url: str
) -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    sink = sink_factory(grpc_port=0, retry_after_unavailable=1, breaker_seconds=0.2, acquire_timeout=1.0)
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(
        otlp.body(otlp.request([otlp.span(f"s{i}") for i in range(3)]))
    )
    with grpc.insecure_channel(f"127.0.0.1:{sink.grpc_port}") as channel:
        export = trace_service_pb2_grpc.TraceServiceStub(channel).Export
        pg_cluster.stop()
        try:
            with pytest.raises(grpc.RpcError) as refused:
                export(request, timeout=30)
            assert refused.value.code() is grpc.StatusCode.UNAVAILABLE  # retryable: the collector tries again
        finally:
            pg_cluster.start()
        deadline = time.monotonic() + 60
        codes: list[grpc.StatusCode] = []
        while True:  # as the collector's retry does, until the sink's breaker lets the request through
            try:
                export(request, timeout=30)
                break
            except grpc.RpcError as error:
                codes.append(error.code())
                assert time.monotonic() < deadline, "Postgres did not come back in time"
                time.sleep(0.2)
        assert set(codes) <= {grpc.StatusCode.UNAVAILABLE}
        export(request, timeout=30)  # a duplicate retry changes nothing
    assert otlp.count(database_url, "spans") == 3


def test_otlp_grpc_metric_and_log_exporters_succeed_and_store_nothing(
    sink_factory: SinkFactory, database_url: str
) -> None:
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import (
        InMemoryLogRecordExporter,
        LogRecordExportResult,
        SimpleLogRecordProcessor,
    )
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult

    sink = sink_factory(grpc_port=0, token="s3cret")
    endpoint = f"127.0.0.1:{sink.grpc_port}"
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    meter_provider.get_meter("app").create_counter("calls").add(2)
    metrics = reader.get_metrics_data()
    meter_provider.shutdown()
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    logger_provider.get_logger("app").emit(body="a log record")
    logger_provider.shutdown()
    records = list(logs.get_finished_logs())
    assert records

    wrong = OTLPMetricExporter(endpoint=endpoint, insecure=True, headers={"authorization": "Bearer nope"}, timeout=5)
    assert wrong.export(metrics) is MetricExportResult.FAILURE
    wrong.shutdown()
    good = {"authorization": "Bearer s3cret"}
    metric_exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True, headers=good, timeout=5)
    assert metric_exporter.export(metrics) is MetricExportResult.SUCCESS
    metric_exporter.shutdown()
    log_exporter = OTLPLogExporter(endpoint=endpoint, insecure=True, headers=good, timeout=5)
    assert log_exporter.export(records) is LogRecordExportResult.SUCCESS
    log_exporter.shutdown()
    assert otlp.count(database_url, "spans") == 0
