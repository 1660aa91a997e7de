"""The OpenTelemetry providers tokentrail creates, and their bounded shutdown.

- traces: a `TracerProvider` with a `Resource` (`service.name` from the argument, else `OTEL_SERVICE_NAME` /
  `OTEL_RESOURCE_ATTRIBUTES` / `TOKENTRAIL_SERVICE_NAME`) and a `BatchSpanProcessor` per span exporter;
- metrics: a `MeterProvider` with the metric readers, and Views giving the GenAI histograms their semconv bucket
  boundaries.

A provider the application already installed globally is used as it is (nothing is added to it). The providers are
created without the SDK's exit hook: `shutdown()` stops them side by side on daemon threads and waits at most the
given timeout in all, since the SDK's own shutdown waits up to 30 s per processor or reader and the OTLP exporters
retry with backoff, so a dead or hanging collector could otherwise hold the application's exit for tens of seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tokentrail.contract import semconv
from tokentrail.instrumentation.exporters import metric_readers, span_exporters
from tokentrail.instrumentation.settings import Settings

__all__ = ["histogram_views", "meter_provider", "resource", "shutdown", "span_processors_of", "tracer_provider"]

log = logging.getLogger(__name__)

_HISTOGRAM_BUCKETS: tuple[tuple[str, tuple[float, ...]], ...] = (
    (semconv.METRIC_TOKEN_USAGE, semconv.TOKEN_USAGE_BUCKETS),
    (semconv.METRIC_OPERATION_DURATION, semconv.DURATION_BUCKETS),
    (semconv.METRIC_TIME_TO_FIRST_CHUNK, semconv.TIME_TO_FIRST_CHUNK_BUCKETS),
)


def histogram_views() -> list[View]:
    """Views giving the GenAI histograms their semconv bucket boundaries."""
    return [
        View(instrument_name=name, aggregation=ExplicitBucketHistogramAggregation(boundaries=buckets))
        for name, buckets in _HISTOGRAM_BUCKETS
    ]


def resource(settings: Settings, service_name: str | None) -> Resource:
    """Resource from the environment (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`); an explicit name wins.

    `TOKENTRAIL_SERVICE_NAME` is used when the OpenTelemetry variables give no service name.
    """
    detected_resource = Resource.create({})
    detected = detected_resource.attributes.get(SERVICE_NAME)
    named_by_env = isinstance(detected, str) and not detected.startswith("unknown_service")
    name = service_name or (None if named_by_env else settings.service_name)
    return detected_resource.merge(Resource({SERVICE_NAME: name})) if name else detected_resource


def tracer_provider(
    settings: Settings,
    resource: Resource,
    endpoint: str | None,
    headers: Mapping[str, str] | None,
    retired: Sequence[object] = (),
) -> tuple[trace.TracerProvider, TracerProvider | None, tuple[BatchSpanProcessor, ...]]:
    """(the provider to instrument with, the provider tokentrail created or None, the processors it added).

    `retired`: providers tokentrail created and shut down earlier; a global one of those is replaced locally.
    """
    existing = trace.get_tracer_provider()
    if not isinstance(existing, trace.ProxyTracerProvider) and not any(existing is r for r in retired):
        log.debug("tokentrail: using the tracer provider the application installed (%s)", type(existing).__name__)
        return existing, None, ()
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)  # `shutdown()` stops it, bounded
    processors = tuple(BatchSpanProcessor(exporter) for exporter in span_exporters(settings, endpoint, headers))
    for processor in processors:
        provider.add_span_processor(processor)
    if isinstance(existing, trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)
    else:
        log.debug("tokentrail: the global tracer provider was shut down by uninstrument(); using a new one locally")
    return provider, provider, processors


def meter_provider(
    settings: Settings,
    resource: Resource,
    endpoint: str | None,
    headers: Mapping[str, str] | None,
    retired: Sequence[object] = (),
) -> tuple[metrics.MeterProvider, MeterProvider | None]:
    """(the provider to instrument with, the provider tokentrail created or None)."""
    existing = metrics.get_meter_provider()
    proxy = type(existing).__name__ in ("_ProxyMeterProvider", "NoOpMeterProvider")
    if not proxy and not any(existing is r for r in retired):
        log.debug("tokentrail: using the meter provider the application installed (%s)", type(existing).__name__)
        return existing, None
    provider = MeterProvider(
        resource=resource,
        metric_readers=metric_readers(settings, endpoint, headers),
        views=histogram_views(),
        shutdown_on_exit=False,
    )
    if proxy:
        metrics.set_meter_provider(provider)
    return provider, provider


def span_processors_of(provider: TracerProvider) -> tuple[SpanProcessor, ...]:
    """The span processors added to an SDK tracer provider (read from the SDK's private state; () if it changed)."""
    processors = getattr(getattr(provider, "_active_span_processor", None), "_span_processors", ())
    return tuple(processors) if isinstance(processors, tuple | list) else ()


def shutdown(
    providers: Sequence[TracerProvider | MeterProvider],
    timeout: float,
    span_processors: Sequence[SpanProcessor] = (),
) -> None:
    """Shut `providers` down, side by side, waiting `timeout` seconds for them all.

    `TracerProvider.shutdown()` takes no timeout (each batch processor waits up to 30 s for its last export), so
    each provider shuts down on a daemon thread; one still exporting at the deadline is left to finish on its own
    (it does not hold up the interpreter's exit) and what it had not exported is lost. Where no thread can be
    started (an exit hook on Python 3.12+), `span_processors` are shut down inline within the deadline first.
    Never raises.
    """
    deadline = time.monotonic() + timeout
    threads = []
    for provider in providers:
        thread = threading.Thread(
            target=_shutdown_provider, args=(provider, deadline), name="tokentrail-shutdown", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # Python 3.12+ starts no thread from an exit hook: shut down here, within the deadline
            log.debug("tokentrail: no thread to shut down %s; shutting down inline", type(provider).__name__)
            _shutdown_provider(provider, deadline, span_processors)
            continue
        threads.append((provider, thread))
    for provider, thread in threads:
        thread.join(_remaining(deadline))
        if thread.is_alive():
            log.debug(
                "tokentrail: %s did not shut down within %.3g s (is the OTLP endpoint reachable?); its unexported"
                " telemetry is dropped",
                type(provider).__name__,
                timeout,
            )


def _shutdown_provider(
    provider: TracerProvider | MeterProvider, deadline: float, span_processors: Sequence[SpanProcessor] = ()
) -> None:
    """Shut one provider down; `span_processors` are first shut down within the deadline (without a thread)."""
    try:
        if isinstance(provider, MeterProvider):
            provider.shutdown(timeout_millis=_remaining(deadline) * 1000)  # its readers' joins honour it
            return
        for processor in span_processors:
            # The SDK's batch processor (1.3x) takes the timeout that BatchSpanProcessor.shutdown() does not pass.
            bounded = getattr(getattr(processor, "_batch_processor", None), "shutdown", None)
            if callable(bounded):
                bounded(timeout_millis=_remaining(deadline) * 1000)
        provider.shutdown()
    except Exception:
        log.debug("tokentrail: could not shut down %s", type(provider).__name__, exc_info=True)


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.0)
