"""Telemetry faults never break the application's call, and never turn a success into an ERROR span."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, StatusCode, TraceFlags

from tests.fixtures.spans import MODEL, USER, attrs, llm_spans, only_span
from tokentrail.contract import semconv
from tokentrail.dev.standin import MessageReply, Usage
from tokentrail.instrumentation.anthropic import AnthropicInstrumentor, requests
from tokentrail.instrumentation.anthropic.accumulator import MessageAccumulator
from tokentrail.instrumentation.recorder.content import ContentPolicy
from tokentrail.pricing import PriceBook

REPLY = MessageReply(usage=Usage(input_tokens=11, output_tokens=7))


def _raise(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected telemetry fault")


@pytest.mark.usefixtures("instrumented")
def test_pricing_fault_keeps_tokens(anthropic_client, span_exporter, standin, monkeypatch):
    monkeypatch.setattr(PriceBook, "cost", _raise)
    standin.enqueue(REPLY)
    message = anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    span = only_span(span_exporter)
    a = attrs(span)
    assert message.usage.output_tokens == 7
    assert span.status.status_code is StatusCode.UNSET
    assert (a[semconv.GEN_AI_USAGE_INPUT_TOKENS], a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (11, 7)
    assert semconv.COST_USD not in a


@pytest.mark.usefixtures("instrumented")
def test_content_fault_keeps_the_rest(anthropic_client, span_exporter, standin, monkeypatch):
    monkeypatch.setattr(ContentPolicy, "request_attributes", _raise)
    monkeypatch.setattr(ContentPolicy, "response_attributes", _raise)
    standin.enqueue(REPLY)
    anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    span = only_span(span_exporter)
    a = attrs(span)
    assert span.status.status_code is StatusCode.UNSET
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert a[semconv.COST_USD] > 0
    assert semconv.GEN_AI_INPUT_MESSAGES not in a
    assert semconv.GEN_AI_OUTPUT_MESSAGES not in a


@pytest.mark.usefixtures("instrumented")
def test_request_extraction_fault_runs_the_call_unrecorded(anthropic_client, span_exporter, monkeypatch):
    monkeypatch.setattr(requests, "chat_request", _raise)
    message = anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    assert message.content
    assert llm_spans(span_exporter) == []


@pytest.mark.usefixtures("instrumented")
def test_stream_accounting_fault_keeps_the_stream(anthropic_client, span_exporter, standin, monkeypatch):
    monkeypatch.setattr(MessageAccumulator, "add", _raise)
    standin.enqueue(REPLY)
    with anthropic_client.messages.stream(model=MODEL, max_tokens=200, messages=USER) as stream:
        text = stream.get_final_text()
    assert text
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.UNSET


class _FaultySpan(NonRecordingSpan):
    """A recording span whose every write raises."""

    ended = 0

    def is_recording(self) -> bool:
        return True

    def set_attribute(self, key: str, value: Any) -> None:
        raise RuntimeError("set_attribute fault")

    def set_attributes(self, attributes: Any) -> None:
        raise RuntimeError("set_attributes fault")

    def set_status(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("set_status fault")

    def end(self, end_time: int | None = None) -> None:
        type(self).ended += 1
        raise RuntimeError("end fault")


class _FaultyTracer(trace.Tracer):
    def __init__(self, *, start_fails: bool) -> None:
        self.start_fails = start_fails

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        if self.start_fails:
            raise RuntimeError("start_span fault")
        context = SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=False, trace_flags=TraceFlags(1))
        return _FaultySpan(context)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - unused
        raise NotImplementedError


class _FaultyProvider(trace.TracerProvider):
    def __init__(self, *, start_fails: bool) -> None:
        self.tracer = _FaultyTracer(start_fails=start_fails)

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return self.tracer


@pytest.fixture(params=[False, True], ids=["span-writes-raise", "start-span-raises"])
def faulty_instrumentation(request, meter_provider, tokentrail_settings) -> Iterator[_FaultyProvider]:
    provider = _FaultyProvider(start_fails=request.param)
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider, meter_provider=meter_provider, settings=tokentrail_settings)
    yield provider
    instrumentor.uninstrument()


def test_a_tracer_provider_that_raises_never_breaks_calls(faulty_instrumentation, anthropic_client, standin):
    _FaultySpan.ended = 0
    standin.enqueue(REPLY, REPLY)
    message = anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    assert message.usage.output_tokens == 7
    with anthropic_client.messages.stream(model=MODEL, max_tokens=200, messages=USER) as stream:
        assert stream.get_final_message().usage.output_tokens == 7
    assert anthropic_client.messages.count_tokens(model=MODEL, messages=USER).input_tokens > 0
    expected_ends = 0 if faulty_instrumentation.tracer.start_fails else 3
    assert _FaultySpan.ended == expected_ends
