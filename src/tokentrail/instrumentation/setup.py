"""Setting tokentrail up in one line: `tokentrail.instrument()` and `tokentrail.uninstrument()`.

`instrument()` validates its arguments, resolves the settings, builds (or reuses) the OpenTelemetry providers and
exporters (`providers`, `exporters`) and instruments the `anthropic` SDK. Every standard variable is honoured: the
exporters read their own `OTEL_EXPORTER_OTLP_*`, the SDK its `OTEL_BSP_*`, `OTEL_METRIC_EXPORT_*`,
`OTEL_TRACES_SAMPLER*` and `OTEL_SDK_DISABLED`; `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` choose the
exporters. The `endpoint` argument is the OTLP *base* endpoint (`/v1/traces` and `/v1/metrics` are appended for
HTTP).

A provider the application already installed globally is respected: tokentrail instruments with it and adds
nothing to it, and leaves its shutdown to the application. `instrument()` is idempotent; `uninstrument()` undoes it
and shuts down (flushing) the providers tokentrail created. Telemetry problems the application can live without
are logged as warnings; bad arguments raise `ValueError`. Unless the application set
`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`, `instrument()` sets it to `x-request-id`, so that the
HTTP server instrumentations instrumented after it record the request id on SERVER spans.

Shutting down is bounded: one exit hook of tokentrail's (and `uninstrument()`) shuts the providers it created down
within `shutdown_timeout` seconds in all (`TOKENTRAIL_SHUTDOWN_TIMEOUT`, default 5); what is still being exported
then is dropped. The zero-code path (`opentelemetry-instrument`) lives in `distro`.

`instrument()` also enables the OpenTelemetry threading instrumentation (unless the application already has), so
work submitted to a `ThreadPoolExecutor` or started as a `threading.Thread` inside `attributes()` / `workflow()`
keeps the trace parent and the app attributes (both live in the OpenTelemetry context); `uninstrument()` disables
it again only if this call enabled it. Under `opentelemetry-instrument` its own entry point enables it.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tokentrail.errors import ConfigurationError
from tokentrail.instrumentation import context, manual, providers
from tokentrail.instrumentation import settings as settings_module
from tokentrail.instrumentation.exporters import PROTOCOLS
from tokentrail.instrumentation.settings import Redactor, Settings
from tokentrail.pricing import pricebook

__all__ = ["current_settings", "instrument", "uninstrument"]

log = logging.getLogger(__name__)


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
    threading_instrumentor: Any | None = None
    """The threading instrumentation, when this `instrument()` enabled it (not when the application had)."""


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
        if getattr(resolved, name) not in PROTOCOLS:
            raise ConfigurationError(f"OTLP protocol {getattr(resolved, name)!r} is not one of {', '.join(PROTOCOLS)}")
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
        settings_module.capture_request_id_header()
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
                resource = providers.resource(resolved, service_name)
                (
                    installation.tracer_provider,
                    installation.owned_tracer_provider,
                    installation.span_processors,
                ) = providers.tracer_provider(resolved, resource, endpoint, headers, _retired)
        except Exception:
            log.warning("tokentrail: could not set up trace export; spans use the global provider", exc_info=True)
        try:
            if resolved.metrics and installation.meter_provider is None:
                installation.meter_provider, installation.owned_meter_provider = providers.meter_provider(
                    resolved, resource or providers.resource(resolved, service_name), endpoint, headers, _retired
                )
        except Exception:
            log.warning("tokentrail: could not set up metric export; metrics are off", exc_info=True)
        context.set_tracer_provider(installation.tracer_provider)
        manual.configure(installation.tracer_provider, installation.meter_provider, resolved)
        if _owned_providers(installation):
            # Before the anthropic instrumentation makes its metric pump, whose own exit hook must run first.
            atexit.register(_at_exit)
        _installed = installation
        settings_module.use(installation.settings)
        installation.instrumentor = _instrument_anthropic(installation)
        installation.threading_instrumentor = _instrument_threading()


def _instrument_threading() -> Any | None:
    """Carry the context (trace parent, app attributes) into threads and thread pools, unless already done."""
    try:
        from opentelemetry.instrumentation.threading import ThreadingInstrumentor

        instrumentor = ThreadingInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            return None
        instrumentor.instrument()
        return instrumentor if instrumentor.is_instrumented_by_opentelemetry else None
    except Exception:
        log.warning("tokentrail: could not instrument threading; thread pools lose the call context", exc_info=True)
        return None


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
        if installation.threading_instrumentor is not None:
            try:
                installation.threading_instrumentor.uninstrument()
            except Exception:
                log.debug("tokentrail: could not uninstrument threading", exc_info=True)
        context.set_tracer_provider(None)
        manual.configure(None, None, None)
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
    providers.shutdown(
        _owned_providers(installation), installation.settings.shutdown_timeout, installation.span_processors
    )
