"""Sink fixtures: a real sink (uvicorn in a background thread) in front of the test's fresh database, spans made by
the real OTel SDK, and a plain POST."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.fixtures import otlp
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.sink.background import BackgroundSink
from tokentrail.sink.config import SinkConfig

SinkFactory = Callable[..., BackgroundSink]

SYSTEM = "You are a helpful shop assistant. " * 30


def sdk_spans(calls: int = 3) -> Sequence[ReadableSpan]:
    """Spans made by the real OTel SDK: one server span with `calls` LLM client spans under it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(anthropic_contract.INSTRUMENTATION_SCOPE, "0.1.0")
    with tracer.start_as_current_span("POST /ask", kind=SpanKind.SERVER):
        for i in range(calls):
            attributes = otlp.llm_attributes(
                **{
                    semconv.GEN_AI_SYSTEM_INSTRUCTIONS: SYSTEM,
                    semconv.GEN_AI_INPUT_MESSAGES: json.dumps(
                        [{"role": "user", "parts": [{"type": "text", "content": f"q{i}"}]}]
                    ),
                    semconv.USER_ID: "u-7",
                }
            )
            with tracer.start_as_current_span("chat claude-sonnet-4-5", kind=SpanKind.CLIENT, attributes=attributes):
                pass
    provider.shutdown()
    return exporter.get_finished_spans()


def post(sink: BackgroundSink, body: bytes, headers: dict[str, str], path: str = "/v1/traces") -> httpx.Response:
    return httpx.post(sink.url + path, content=body, headers=headers, timeout=30)


def wait_ready(sink: BackgroundSink, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if httpx.get(sink.url + "/readyz").status_code == 200:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the sink did not become ready")
        time.sleep(0.02)


@pytest.fixture
def sink_factory(database_url: str) -> Iterator[SinkFactory]:
    """Start sinks with config overrides (port 0, the test database); all are stopped after the test."""
    started: list[BackgroundSink] = []

    def make(**overrides: Any) -> BackgroundSink:
        values: dict[str, Any] = {"database_url": database_url, "port": 0, "acquire_timeout": 2.0}
        values.update(overrides)
        sink = BackgroundSink(SinkConfig(**values))
        sink.start()
        started.append(sink)
        wait_ready(sink)
        return sink

    yield make
    for sink in started:
        sink.stop()


@pytest.fixture
def sink(sink_factory: SinkFactory) -> BackgroundSink:
    return sink_factory()


@pytest.fixture
def client(sink: BackgroundSink) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sink.url, timeout=30) as http:
        yield http
