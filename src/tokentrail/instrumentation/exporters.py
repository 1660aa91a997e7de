"""The exporters `instrument()` sends telemetry through, chosen by `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER`.

`otlp` (HTTP/protobuf unless `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` and the `grpc` extra is installed),
`otlp_proto_http`, `otlp_proto_grpc`, `console`, `none`, or any installed exporter entry point. The exporters read
their own `OTEL_EXPORTER_OTLP_*` variables; the `endpoint` given here is the OTLP *base* endpoint (`/v1/traces`
and `/v1/metrics` are appended for HTTP). An exporter that cannot be created is logged and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.trace.export import SpanExporter

from tokentrail.instrumentation.settings import Settings

__all__ = ["PROTOCOLS", "metric_readers", "span_exporters"]

log = logging.getLogger(__name__)

PROTOCOLS = ("http/protobuf", "grpc")
"""The OTLP protocols `OTEL_EXPORTER_OTLP_PROTOCOL` may name."""


def _names(value: str) -> list[str]:
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    return [] if "none" in names else names


def _otlp_span_exporter(protocol: str, endpoint: str | None, headers: Mapping[str, str] | None) -> SpanExporter:
    kwargs: dict[str, Any] = {}
    if headers is not None:
        kwargs["headers"] = dict(headers)
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
        except ImportError:
            log.warning("tokentrail: OTLP over gRPC needs `pip install tokentrail[grpc]`; using HTTP/protobuf")
        else:
            if endpoint is not None:
                kwargs["endpoint"] = endpoint
            return GrpcSpanExporter(**kwargs)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if endpoint is not None:
        kwargs["endpoint"] = endpoint.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(**kwargs)


def _otlp_metric_exporter(protocol: str, endpoint: str | None, headers: Mapping[str, str] | None) -> MetricExporter:
    kwargs: dict[str, Any] = {}
    if headers is not None:
        kwargs["headers"] = dict(headers)
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcMetricExporter,
            )
        except ImportError:
            log.warning("tokentrail: OTLP over gRPC needs `pip install tokentrail[grpc]`; using HTTP/protobuf")
        else:
            if endpoint is not None:
                kwargs["endpoint"] = endpoint
            return GrpcMetricExporter(**kwargs)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    if endpoint is not None:
        kwargs["endpoint"] = endpoint.rstrip("/") + "/v1/metrics"
    return OTLPMetricExporter(**kwargs)


def _entry_point_exporter(group: str, name: str) -> Any:
    for entry_point in entry_points(group=group, name=name):
        return entry_point.load()()
    log.warning("tokentrail: no exporter named %r is installed (entry point group %s); skipped", name, group)
    return None


def span_exporters(settings: Settings, endpoint: str | None, headers: Mapping[str, str] | None) -> list[SpanExporter]:
    """The span exporters `settings.traces_exporter` names (none for `none`)."""
    exporters: list[SpanExporter] = []
    for name in _names(settings.traces_exporter):
        try:
            if name in ("otlp", "otlp_proto_http", "otlp_proto_grpc"):
                protocol = {"otlp_proto_http": "http/protobuf", "otlp_proto_grpc": "grpc"}.get(
                    name, settings.otlp_traces_protocol
                )
                exporters.append(_otlp_span_exporter(protocol, endpoint, headers))
            elif name == "console":
                from opentelemetry.sdk.trace.export import ConsoleSpanExporter

                exporters.append(ConsoleSpanExporter())
            elif (exporter := _entry_point_exporter("opentelemetry_traces_exporter", name)) is not None:
                exporters.append(exporter)
        except Exception:
            log.warning("tokentrail: could not create the %r span exporter; skipped", name, exc_info=True)
    return exporters


def metric_readers(settings: Settings, endpoint: str | None, headers: Mapping[str, str] | None) -> list[MetricReader]:
    """A reader per exporter `settings.metrics_exporter` names: periodic, unless the exporter is a reader itself."""
    readers: list[MetricReader] = []
    for name in _names(settings.metrics_exporter):
        try:
            exporter: Any
            if name in ("otlp", "otlp_proto_http", "otlp_proto_grpc"):
                protocol = {"otlp_proto_http": "http/protobuf", "otlp_proto_grpc": "grpc"}.get(
                    name, settings.otlp_metrics_protocol
                )
                exporter = _otlp_metric_exporter(protocol, endpoint, headers)
            elif name == "console":
                from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

                exporter = ConsoleMetricExporter()
            else:
                exporter = _entry_point_exporter("opentelemetry_metrics_exporter", name)
            if isinstance(exporter, MetricReader):
                readers.append(exporter)
            elif exporter is not None:
                readers.append(PeriodicExportingMetricReader(exporter))
        except Exception:
            log.warning("tokentrail: could not create the %r metric exporter; skipped", name, exc_info=True)
    return readers
