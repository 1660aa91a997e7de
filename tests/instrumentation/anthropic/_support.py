"""Helpers shared by the instrumentation tests (plain functions; fixtures live in tests/fixtures)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tokentrail import semconv

MODEL = "claude-haiku-4-5"
"""Priced at $1 input / $5 output / $0.10 cache read / $1.25 5m cache write / $2 1h write per MTok (published)."""
USER = [{"role": "user", "content": "Hello there"}]


def llm_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The finished spans tokentrail made."""
    return [
        span
        for span in exporter.get_finished_spans()
        if span.instrumentation_scope is not None and span.instrumentation_scope.name == semconv.INSTRUMENTATION_SCOPE
    ]


def sdk_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The finished spans the Anthropic SDK made itself."""
    return [
        span
        for span in exporter.get_finished_spans()
        if span.instrumentation_scope is not None and span.instrumentation_scope.name == semconv.SDK_NATIVE_SCOPE
    ]


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = llm_spans(exporter)
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """Data points of metric `name` (empty when it was never recorded)."""
    data = reader.get_metrics_data()
    found: list[Any] = []
    if data is None:
        return found
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found
