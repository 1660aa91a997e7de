"""The `opentelemetry-instrument` entry points: the distro's defaults and the configurator's bounded shutdown.

The zero-code path end to end runs in subprocesses: tests/instrumentation/test_zero_code.py (export) and
tests/instrumentation/test_shutdown.py (a dead collector does not hold the exit).
"""

from __future__ import annotations

import atexit
import os

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tokentrail.instrumentation import distro, providers


def test_distro_sets_otlp_http_defaults_without_overriding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    distro.TokentrailDistro().configure()
    assert os.environ["OTEL_TRACES_EXPORTER"] == "otlp"
    assert os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert os.environ["OTEL_METRICS_EXPORTER"] == "none"


def test_the_configured_providers_exit_hooks_are_replaced_by_one_bounded_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer_provider = TracerProvider()
    processor = SimpleSpanProcessor(InMemorySpanExporter())
    tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider()
    monkeypatch.setattr(distro.trace, "get_tracer_provider", lambda: tracer_provider)
    monkeypatch.setattr(distro.metrics, "get_meter_provider", lambda: meter_provider)
    monkeypatch.setenv("TOKENTRAIL_SHUTDOWN_TIMEOUT", "0.5")
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(atexit, "register", lambda *args: calls.append(args))
    try:
        distro._bound_shutdown()
        assert tracer_provider._atexit_handler is None
        assert meter_provider._atexit_handler is None
        assert calls == [(providers.shutdown, (tracer_provider, meter_provider), 0.5, (processor,))]
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


def test_a_provider_without_an_exit_hook_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    monkeypatch.setattr(distro.trace, "get_tracer_provider", lambda: tracer_provider)
    monkeypatch.setattr(distro.metrics, "get_meter_provider", object)
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(atexit, "register", lambda *args: calls.append(args))
    distro._bound_shutdown()
    assert calls == []
    tracer_provider.shutdown()


def test_distro_captures_x_request_id_on_server_spans_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from tokentrail.instrumentation.settings import CAPTURE_SERVER_REQUEST_HEADERS

    monkeypatch.setenv(CAPTURE_SERVER_REQUEST_HEADERS, "")  # so that monkeypatch restores "unset" afterwards
    monkeypatch.delenv(CAPTURE_SERVER_REQUEST_HEADERS)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    distro.TokentrailDistro().configure()
    assert os.environ[CAPTURE_SERVER_REQUEST_HEADERS] == "x-request-id"
    monkeypatch.setenv(CAPTURE_SERVER_REQUEST_HEADERS, "content-type,x-tenant")
    distro.TokentrailDistro().configure()
    assert os.environ[CAPTURE_SERVER_REQUEST_HEADERS] == "content-type,x-tenant"
