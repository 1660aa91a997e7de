"""Zero code: the `opentelemetry-instrument` entry points (`opentelemetry-instrument python app.py`).

`TokentrailDistro` sets the defaults (OTLP over HTTP/protobuf for traces and metrics, `X-Request-ID` captured on
HTTP server spans), `TokentrailConfigurator`
runs the standard SDK set-up from the environment, and the `AnthropicInstrumentor` entry point instruments the SDK.

The providers the SDK set-up creates would shut down in their own exit hooks, unbounded (up to 30 s per processor
or reader, with OTLP retries on top), so a dead collector could hold the exit. The configurator takes those hooks
over: one exit hook of tokentrail's shuts them down within `TOKENTRAIL_SHUTDOWN_TIMEOUT` seconds, as `instrument()`
does for the providers it creates.
"""

from __future__ import annotations

import atexit
import logging
import os
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from tokentrail.instrumentation import context, providers
from tokentrail.instrumentation import settings as settings_module

__all__ = ["TokentrailConfigurator", "TokentrailDistro"]

log = logging.getLogger(__name__)


class TokentrailDistro(BaseDistro):  # type: ignore[misc]
    """The `opentelemetry_distro` entry point: OTLP over HTTP/protobuf for traces and metrics, and `X-Request-ID`
    on HTTP server spans, unless configured."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault("OTEL_TRACES_EXPORTER", "otlp")
        os.environ.setdefault("OTEL_METRICS_EXPORTER", "otlp")
        os.environ.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        settings_module.capture_request_id_header()  # before the server instrumentations load


class TokentrailConfigurator(_OTelSDKConfigurator):
    """The `opentelemetry_configurator` entry point: the standard SDK configuration from the environment.

    The GenAI histograms carry their semconv bucket boundaries as instrument advice, so no View is needed here.
    """

    def _configure(self, **kwargs: Any) -> None:
        super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        context.set_tracer_provider(None)  # workflow spans follow the global provider just configured
        try:
            _bound_shutdown()
        except Exception:
            log.debug("tokentrail: could not bound the shutdown of the configured providers", exc_info=True)


def _bound_shutdown() -> None:
    """Replace the SDK exit hooks of the global providers just configured by one bounded hook."""
    owned: list[TracerProvider | MeterProvider] = []
    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
        handler = getattr(provider, "_atexit_handler", None)
        if isinstance(provider, TracerProvider | MeterProvider) and handler is not None:
            atexit.unregister(handler)
            provider._atexit_handler = None
            owned.append(provider)
    if not owned:
        return
    try:
        timeout = settings_module.current().shutdown_timeout
    except ValueError:  # a bad TOKENTRAIL_* variable: keep the default bound rather than none
        log.warning("tokentrail: invalid settings in the environment; shutting down within the default bound")
        timeout = settings_module.Settings.shutdown_timeout
    processors = tuple(
        p for provider in owned if isinstance(provider, TracerProvider) for p in providers.span_processors_of(provider)
    )
    atexit.register(providers.shutdown, tuple(owned), timeout, processors)
