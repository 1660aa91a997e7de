"""`tokentrail.instrument()` / `uninstrument()` in-process, with the application's own (in-memory) providers.

Paths that install global providers and export over OTLP run in subprocesses (tests/instrumentation/test_zero_code.py);
the `opentelemetry-instrument` distro and configurator are tested in tests/instrumentation/test_distro.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tokentrail
from tokentrail.contract import semconv
from tokentrail.instrumentation import setup
from tokentrail.instrumentation.settings import CaptureMode
from tokentrail.pricing import PricingError

MODEL = "claude-haiku-4-5"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "TOKENTRAIL_CAPTURE_CONTENT",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "TOKENTRAIL_PRICES_FILE",
        "TOKENTRAIL_CONTENT_MAX_BYTES",
        "TOKENTRAIL_METRICS",
        "TOKENTRAIL_SHUTDOWN_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    # instrument() sets this default: unset it now and again afterwards (setenv first, so monkeypatch restores)
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "")
    monkeypatch.delenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST")
    yield
    tokentrail.uninstrument()


def ask(client: anthropic.Anthropic, text: str = "What is OpenTelemetry?") -> Any:
    return client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": text}])


def chat_spans(exporter: InMemorySpanExporter) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.name == f"chat {MODEL}"]


def test_instrument_with_the_application_providers_records_one_span_per_call(
    anthropic_client: anthropic.Anthropic,
    tracer_provider: TracerProvider,
    meter_provider: MeterProvider,
    span_exporter: InMemorySpanExporter,
    metric_reader: InMemoryMetricReader,
) -> None:
    tokentrail.instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, capture_content=True, content_max_bytes=4096
    )
    settings = setup.current_settings()
    assert settings.capture_content is CaptureMode.SPAN_ONLY
    assert settings.content_max_bytes == 4096

    with tokentrail.attributes(user_id="u-1", tags=["setup-test"]):
        message = ask(anthropic_client)
    [span] = chat_spans(span_exporter)
    assert span.attributes is not None
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == message.usage.output_tokens
    assert span.attributes[semconv.USER_ID] == "u-1"
    assert span.attributes[semconv.COST_USD] > 0
    assert json.loads(str(span.attributes[semconv.GEN_AI_INPUT_MESSAGES]))[0]["parts"][0]["content"] == (
        "What is OpenTelemetry?"
    )
    data = metric_reader.get_metrics_data()
    assert data is not None
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert semconv.METRIC_TOKEN_USAGE in names

    tokentrail.uninstrument()
    ask(anthropic_client)
    assert len(chat_spans(span_exporter)) == 1  # no span once uninstrumented
    assert setup.current_settings().capture_content is CaptureMode.SPAN_ONLY  # back to the environment's default


def test_instrument_is_idempotent(
    anthropic_client: anthropic.Anthropic, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    tokentrail.instrument(tracer_provider=tracer_provider, capture_content=False, metrics=False)
    tokentrail.instrument(tracer_provider=tracer_provider, capture_content=True)  # no-op
    assert setup.current_settings().capture_content is CaptureMode.NO_CONTENT
    ask(anthropic_client)
    [span] = chat_spans(span_exporter)
    assert span.attributes is not None
    assert semconv.GEN_AI_INPUT_MESSAGES not in span.attributes
    tokentrail.uninstrument()
    tokentrail.uninstrument()  # harmless when nothing is installed


def test_content_capture_follows_the_standard_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
    anthropic_client: anthropic.Anthropic,
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "NO_CONTENT")
    tokentrail.instrument(tracer_provider=tracer_provider, metrics=False)
    ask(anthropic_client)
    [span] = chat_spans(span_exporter)
    assert span.attributes is not None
    assert semconv.GEN_AI_INPUT_MESSAGES not in span.attributes
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS in span.attributes


def test_price_overrides_and_redaction_reach_the_span(
    tmp_path: Path,
    anthropic_client: anthropic.Anthropic,
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(f'["{MODEL}"]\ninput = 1000\noutput = 1000\n', encoding="utf-8")

    def redact(name: str, value: Any) -> Any:
        return [{"role": "user", "parts": [{"type": "text", "content": "[redacted]"}]}] if "input" in name else value

    tokentrail.instrument(tracer_provider=tracer_provider, metrics=False, prices_file=prices, redact=redact)
    message = ask(anthropic_client, "my secret")
    [span] = chat_spans(span_exporter)
    assert span.attributes is not None
    tokens = message.usage.input_tokens + message.usage.output_tokens
    assert span.attributes[semconv.COST_USD] == pytest.approx(tokens * 1000 / 1_000_000)
    assert span.attributes[semconv.COST_SOURCE] == f"override:{prices}"
    assert "my secret" not in str(span.attributes[semconv.GEN_AI_INPUT_MESSAGES])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capture_content": "maybe"}, "capture content"),
        ({"capture_content": 3}, "capture_content"),
        ({"content_max_bytes": 0}, "content_max_bytes"),
        ({"content_max_bytes": "big"}, "content_max_bytes"),
        ({"endpoint": "localhost:4318"}, "endpoint"),
        ({"headers": {"x": 1}}, "headers"),
        ({"redact": "not callable"}, "redact"),
        ({"metrics": "yes"}, "metrics"),
        ({"service_name": ""}, "service_name"),
        ({"shutdown_timeout": 0}, "shutdown_timeout must be a positive number of seconds"),
        ({"shutdown_timeout": "5"}, "shutdown_timeout"),
        ({"shutdown_timeout": True}, "shutdown_timeout"),
    ],
)
def test_bad_arguments_raise_value_error_and_install_nothing(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tokentrail.instrument(**kwargs)
    assert setup._installed is None


def test_a_bad_price_file_is_reported_at_instrument_time(tmp_path: Path, tracer_provider: TracerProvider) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('["m"]\ninput = "free"\noutput = 1\n', encoding="utf-8")
    with pytest.raises(PricingError, match=r"prices\.toml:1"):
        tokentrail.instrument(tracer_provider=tracer_provider, prices_file=prices)
    assert setup._installed is None


def test_a_bad_shutdown_timeout_variable_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENTRAIL_SHUTDOWN_TIMEOUT", "-1")
    with pytest.raises(ValueError, match="TOKENTRAIL_SHUTDOWN_TIMEOUT"):
        tokentrail.instrument()
    assert setup._installed is None


def test_the_shutdown_timeout_argument_overrides_the_environment(
    monkeypatch: pytest.MonkeyPatch, tracer_provider: TracerProvider
) -> None:
    monkeypatch.setenv("TOKENTRAIL_SHUTDOWN_TIMEOUT", "30")
    tokentrail.instrument(tracer_provider=tracer_provider, metrics=False, shutdown_timeout=0.5)
    assert setup.current_settings().shutdown_timeout == 0.5


def test_an_unknown_otlp_protocol_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    with pytest.raises(ValueError, match="carrier-pigeon"):
        tokentrail.instrument()
