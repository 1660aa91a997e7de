"""Setting tokentrail up: one line in code (`tokentrail.instrument()`) or zero code (`opentelemetry-instrument`).

`instrument()` builds (or reuses) the OpenTelemetry providers and exporters and instruments the `anthropic` SDK:

- traces: a `TracerProvider` with a `Resource` (`service.name` from the argument, else `OTEL_SERVICE_NAME` /
  `OTEL_RESOURCE_ATTRIBUTES` / `TOKENTRAIL_SERVICE_NAME`) and a `BatchSpanProcessor` over an OTLP exporter;
- metrics: a `MeterProvider` with a `PeriodicExportingMetricReader` over an OTLP exporter, and Views giving the
  GenAI histograms their semconv bucket boundaries.

OTLP goes over HTTP/protobuf by default (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc` selects gRPC when the `grpc` extra
is installed). Every standard variable is honoured: the exporters read their own `OTEL_EXPORTER_OTLP_*`
(endpoint, headers, timeout, compression, certificates), the SDK its `OTEL_BSP_*`, `OTEL_METRIC_EXPORT_*`,
`OTEL_TRACES_SAMPLER*` and `OTEL_SDK_DISABLED`; `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` choose the
exporters (`otlp`, `console`, `none`, or any installed exporter entry point). The `endpoint` argument is the
OTLP *base* endpoint (`/v1/traces` and `/v1/metrics` are appended for HTTP).

A provider the application already installed globally is respected: tokentrail instruments with it and adds
nothing to it, and leaves its shutdown to the application. `instrument()` is idempotent; `uninstrument()` undoes it
and shuts down (flushing) the providers tokentrail created. Telemetry problems the application can live without
are logged as warnings; bad arguments raise `ValueError`.

Shutting down is bounded: the SDK's own shutdown waits up to 30 s per processor or reader, and the OTLP exporters
retry with backoff for up to their timeout per batch, so a dead or hanging collector could hold the application's
exit for tens of seconds. tokentrail's providers are created without the SDK's exit hook; one hook of tokentrail's
(and `uninstrument()`) shuts them down on daemon threads and waits at most `shutdown_timeout` seconds in all
(`TOKENTRAIL_SHUTDOWN_TIMEOUT`, default 5). What is still being exported then is dropped.

Zero code: `opentelemetry-instrument python app.py` loads `TokentrailDistro` (defaults: OTLP over
HTTP/protobuf for traces and metrics), `TokentrailConfigurator` (the standard SDK set-up from the environment)
and the `AnthropicInstrumentor` entry point.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from tokentrail.contract import semconv
from tokentrail.errors import ConfigurationError
from tokentrail.instrumentation import context
from tokentrail.instrumentation import settings as settings_module
from tokentrail.instrumentation.settings import Redactor, Settings
from tokentrail.pricing import pricebook

__all__ = ["TokentrailConfigurator", "TokentrailDistro", "current_settings", "instrument", "uninstrument"]

log = logging.getLogger(__name__)

_HISTOGRAM_BUCKETS: tuple[tuple[str, tuple[float, ...]], ...] = (
    (semconv.METRIC_TOKEN_USAGE, semconv.TOKEN_USAGE_BUCKETS),
    (semconv.METRIC_OPERATION_DURATION, semconv.DURATION_BUCKETS),
    (semconv.METRIC_TIME_TO_FIRST_CHUNK, semconv.TIME_TO_FIRST_CHUNK_BUCKETS),
)
_PROTOCOLS = ("http/protobuf", "grpc")


@dataclass
class _Installation:
    """What one `instrument()` call set up, so that `uninstrument()` can undo exactly that."""

    settings: Settings
    tracer_provider: trace.TracerProvider | None
    meter_provider: metrics.MeterProvider | None
    owned_tracer_provider: TracerProvider | None
    owned_meter_provider: MeterProvider | None
    instrumentor: Any | None
    span_processors: tuple[BatchSpanProcessor, ...] = ()
    """The processors tokentrail added to its own tracer provider."""


_lock = threading.RLock()
_installed: _Installation | None = None
_retired: list[object] = []
"""Providers tokentrail created, set globally and later shut down (the global provider cannot be replaced)."""


def current_settings() -> Settings:
    """The settings `instrument()` resolved, or the environment's settings when it has not been called."""
    return settings_module.current()


# --- arguments ------------------------------------------------------------------------------------------------


def _resolve_settings(
    *,
    service_name: str | None,
    capture_content: bool | str | None,
    content_max_bytes: int | None,
    redact: Redactor | None,
    prices_file: str | Path | None,
    metrics_enabled: bool | None,
    shutdown_timeout: float | None,
) -> Settings:
    if service_name is not None and (not isinstance(service_name, str) or not service_name.strip()):
        raise ConfigurationError(f"service_name must be a non-empty string, got {service_name!r}")
    if capture_content is not None and not isinstance(capture_content, bool | str):
        raise ConfigurationError(f"capture_content must be a bool or a mode name, got {capture_content!r}")
    if content_max_bytes is not None and (
        isinstance(content_max_bytes, bool) or not isinstance(content_max_bytes, int) or content_max_bytes <= 0
    ):
        raise ConfigurationError(f"content_max_bytes must be a positive whole number, got {content_max_bytes!r}")
    if redact is not None and not callable(redact):
        raise ConfigurationError(f"redact must be a callable (attribute name, value) -> value, got {redact!r}")
    if metrics_enabled is not None and not isinstance(metrics_enabled, bool):
        raise ConfigurationError(f"metrics must be True or False, got {metrics_enabled!r}")
    if prices_file is not None and not isinstance(prices_file, str | Path):
        raise ConfigurationError(f"prices_file must be a path, got {prices_file!r}")
    if shutdown_timeout is not None and (
        isinstance(shutdown_timeout, bool)
        or not isinstance(shutdown_timeout, int | float)
        or not math.isfinite(shutdown_timeout)
        or shutdown_timeout <= 0
    ):
        raise ConfigurationError(f"shutdown_timeout must be a positive number of seconds, got {shutdown_timeout!r}")
    resolved = settings_module.load(
        service_name=service_name,
        capture_content=capture_content,
        content_max_bytes=content_max_bytes,
        redact=redact,
        prices_file=prices_file,
        metrics=metrics_enabled,
        shutdown_timeout=None if shutdown_timeout is None else float(shutdown_timeout),
    )
    for name in ("otlp_traces_protocol", "otlp_metrics_protocol"):
        if getattr(resolved, name) not in _PROTOCOLS:
            raise ConfigurationError(f"OTLP protocol {getattr(resolved, name)!r} is not one of {', '.join(_PROTOCOLS)}")
    pricebook(resolved.prices_file)  # a bad override file raises PricingError (a ValueError) now, not per call
    return resolved


def _validate_endpoint(endpoint: str | None, headers: Mapping[str, str] | None) -> None:
    if endpoint is not None and (not isinstance(endpoint, str) or "://" not in endpoint):
        raise ConfigurationError(f"endpoint must be a URL such as http://localhost:4318, got {endpoint!r}")
    if headers is not None and (
        not isinstance(headers, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        raise ConfigurationError("headers must be a mapping of strings to strings")


# --- exporters ------------------------------------------------------------------------------------------------


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


def _span_exporters(settings: Settings, endpoint: str | None, headers: Mapping[str, str] | None) -> list[SpanExporter]:
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


def _metric_readers(settings: Settings, endpoint: str | None, headers: Mapping[str, str] | None) -> list[MetricReader]:
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


def _histogram_views() -> list[View]:
    return [
        View(instrument_name=name, aggregation=ExplicitBucketHistogramAggregation(boundaries=buckets))
        for name, buckets in _HISTOGRAM_BUCKETS
    ]


def _resource(settings: Settings, service_name: str | None) -> Resource:
    """Resource from the environment (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`); an explicit name wins.

    `TOKENTRAIL_SERVICE_NAME` is used when the OpenTelemetry variables give no service name.
    """
    resource = Resource.create({})
    detected = resource.attributes.get(SERVICE_NAME)
    named_by_env = isinstance(detected, str) and not detected.startswith("unknown_service")
    name = service_name or (None if named_by_env else settings.service_name)
    return resource.merge(Resource({SERVICE_NAME: name})) if name else resource


# --- providers ------------------------------------------------------------------------------------------------


def _tracer_provider(
    settings: Settings, resource: Resource, endpoint: str | None, headers: Mapping[str, str] | None
) -> tuple[trace.TracerProvider, TracerProvider | None, tuple[BatchSpanProcessor, ...]]:
    """(the provider to instrument with, the provider tokentrail created or None, the processors it added)."""
    existing = trace.get_tracer_provider()
    if not isinstance(existing, trace.ProxyTracerProvider) and not any(existing is r for r in _retired):
        log.debug("tokentrail: using the tracer provider the application installed (%s)", type(existing).__name__)
        return existing, None, ()
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)  # `_at_exit` shuts it down, bounded
    processors = tuple(BatchSpanProcessor(exporter) for exporter in _span_exporters(settings, endpoint, headers))
    for processor in processors:
        provider.add_span_processor(processor)
    if isinstance(existing, trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)
    else:
        log.debug("tokentrail: the global tracer provider was shut down by uninstrument(); using a new one locally")
    return provider, provider, processors


def _meter_provider(
    settings: Settings, resource: Resource, endpoint: str | None, headers: Mapping[str, str] | None
) -> tuple[metrics.MeterProvider, MeterProvider | None]:
    existing = metrics.get_meter_provider()
    proxy = type(existing).__name__ in ("_ProxyMeterProvider", "NoOpMeterProvider")
    if not proxy and not any(existing is r for r in _retired):
        log.debug("tokentrail: using the meter provider the application installed (%s)", type(existing).__name__)
        return existing, None
    provider = MeterProvider(
        resource=resource,
        metric_readers=_metric_readers(settings, endpoint, headers),
        views=_histogram_views(),
        shutdown_on_exit=False,
    )
    if proxy:
        metrics.set_meter_provider(provider)
    return provider, provider


def _warm_prices(settings: Settings) -> None:
    """Load the price data off the caller's thread so the first LLM call does not pay for it."""
    book = pricebook(settings.prices_file)
    threading.Thread(target=book.warm, name="tokentrail-prices", daemon=True).start()


def instrument(
    *,
    service_name: str | None = None,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    capture_content: bool | str | None = None,
    content_max_bytes: int | None = None,
    redact: Redactor | None = None,
    prices_file: str | Path | None = None,
    metrics: bool | None = None,
    shutdown_timeout: float | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: Any | None = None,
) -> None:
    """Trace every Claude call of this process: set up OpenTelemetry export (unless the app did) and instrument.

    Arguments left as `None` come from the environment (`TOKENTRAIL_*`, `OTEL_*`). `capture_content` accepts
    `True/False` or a semconv mode name; `endpoint` is the OTLP base URL (default `OTEL_EXPORTER_OTLP_ENDPOINT`
    or http://localhost:4318); `shutdown_timeout` bounds, in seconds, the shutdown of the providers tokentrail
    creates (at exit and in `uninstrument()`); pass `tracer_provider` / `meter_provider` to use your own. Calling it
    again is a no-op until `uninstrument()`.
    """
    global _installed
    with _lock:
        if _installed is not None:
            log.debug("tokentrail: instrument() called again; already instrumented, nothing to do")
            return
        _validate_endpoint(endpoint, headers)
        resolved = _resolve_settings(
            service_name=service_name,
            capture_content=capture_content,
            content_max_bytes=content_max_bytes,
            redact=redact,
            prices_file=prices_file,
            metrics_enabled=metrics,
            shutdown_timeout=shutdown_timeout,
        )
        installation = _Installation(resolved, tracer_provider, meter_provider, None, None, None)
        resource: Resource | None = None
        try:
            if installation.tracer_provider is None:
                resource = _resource(resolved, service_name)
                (
                    installation.tracer_provider,
                    installation.owned_tracer_provider,
                    installation.span_processors,
                ) = _tracer_provider(resolved, resource, endpoint, headers)
        except Exception:
            log.warning("tokentrail: could not set up trace export; spans use the global provider", exc_info=True)
        try:
            if resolved.metrics and installation.meter_provider is None:
                installation.meter_provider, installation.owned_meter_provider = _meter_provider(
                    resolved, resource or _resource(resolved, service_name), endpoint, headers
                )
        except Exception:
            log.warning("tokentrail: could not set up metric export; metrics are off", exc_info=True)
        context.set_tracer_provider(installation.tracer_provider)
        if _owned_providers(installation):
            # Before the anthropic instrumentation makes its metric pump, whose own exit hook must run first.
            atexit.register(_at_exit)
        try:
            _warm_prices(resolved)
        except Exception:
            log.debug("tokentrail: could not preload prices", exc_info=True)
        _installed = installation
        settings_module.use(installation.settings)
        installation.instrumentor = _instrument_anthropic(installation)


def _instrument_anthropic(installation: _Installation) -> Any | None:
    try:
        from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

        instrumentor = AnthropicInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            log.debug("tokentrail: the anthropic SDK is already instrumented (opentelemetry-instrument?)")
            return None
        instrumentor.instrument(
            tracer_provider=installation.tracer_provider,
            meter_provider=installation.meter_provider,
            settings=installation.settings,
        )
        return instrumentor if instrumentor.is_instrumented_by_opentelemetry else None
    except Exception:
        log.warning("tokentrail: could not instrument the anthropic SDK", exc_info=True)
        return None


def uninstrument() -> None:
    """Undo `instrument()`: restore the SDK's methods and shut down (flushing) the providers tokentrail created."""
    global _installed
    with _lock:
        installation = _installed
        if installation is None:
            return
        _installed = None
        settings_module.use(None)
        if installation.instrumentor is not None:
            try:
                installation.instrumentor.uninstrument()
            except Exception:
                log.warning("tokentrail: could not uninstrument the anthropic SDK", exc_info=True)
        context.set_tracer_provider(None)
        atexit.unregister(_at_exit)
        _shutdown(installation)
        _retired.extend(_owned_providers(installation))


def _owned_providers(installation: _Installation) -> list[TracerProvider | MeterProvider]:
    owned = (installation.owned_tracer_provider, installation.owned_meter_provider)
    return [provider for provider in owned if provider is not None]


def _at_exit() -> None:
    """Interpreter exit: shut down (flushing) the providers tokentrail created, within `shutdown_timeout`."""
    installation = _installed
    if installation is not None:
        _shutdown(installation)


def _shutdown(installation: _Installation) -> None:
    """Shut down the providers tokentrail created, side by side, waiting `shutdown_timeout` seconds for them all.

    `TracerProvider.shutdown()` takes no timeout (each batch processor waits up to 30 s for its last export), so
    each provider shuts down on a daemon thread; one still exporting at the deadline is left to finish on its own
    (it does not hold up the interpreter's exit) and what it had not exported is lost. Never raises.
    """
    timeout = installation.settings.shutdown_timeout
    deadline = time.monotonic() + timeout
    threads = []
    for provider in _owned_providers(installation):
        thread = threading.Thread(
            target=_shutdown_provider, args=(provider, deadline), name="tokentrail-shutdown", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # Python 3.12+ starts no thread from an exit hook: shut down here, within the deadline
            log.debug("tokentrail: no thread to shut down %s; shutting down inline", type(provider).__name__)
            _shutdown_provider(provider, deadline, installation.span_processors)
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
    provider: TracerProvider | MeterProvider, deadline: float, span_processors: Sequence[BatchSpanProcessor] = ()
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


# --- zero code: opentelemetry-instrument ----------------------------------------------------------------------


class TokentrailDistro(BaseDistro):  # type: ignore[misc]
    """The `opentelemetry_distro` entry point: OTLP over HTTP/protobuf for traces and metrics unless configured."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault("OTEL_TRACES_EXPORTER", "otlp")
        os.environ.setdefault("OTEL_METRICS_EXPORTER", "otlp")
        os.environ.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")


class TokentrailConfigurator(_OTelSDKConfigurator):
    """The `opentelemetry_configurator` entry point: the standard SDK configuration from the environment.

    The GenAI histograms carry their semconv bucket boundaries as instrument advice, so no View is needed here.
    """

    def _configure(self, **kwargs: Any) -> None:
        super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        context.set_tracer_provider(None)  # workflow spans follow the global provider just configured
