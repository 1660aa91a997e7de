"""`tokentrail.current_ids()`, and the FastAPI recipe of docs/configuration.md: the trace id in a response
header, the request's X-Request-ID on the SERVER span (captured by default once `tokentrail.instrument()` ran)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, use_span

import tokentrail
from tests.fixtures.spans import MODEL, USER, attrs, llm_spans
from tokentrail.contract import semconv
from tokentrail.instrumentation.context import SpanIds
from tokentrail.instrumentation.settings import CAPTURE_SERVER_REQUEST_HEADERS


def test_none_without_a_valid_current_span() -> None:
    assert tokentrail.current_ids() is None


def test_the_ids_of_the_current_span_as_hex(tracer_provider: TracerProvider) -> None:
    tracer = tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("outer") as span:
        ids = tokentrail.current_ids()
        context = span.get_span_context()
    assert isinstance(ids, SpanIds)
    assert ids == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert re.fullmatch(r"[0-9a-f]{32}", ids.trace_id)
    assert re.fullmatch(r"[0-9a-f]{16}", ids.span_id)
    remote = NonRecordingSpan(SpanContext(1, 2, is_remote=True, trace_flags=TraceFlags(1)))
    with use_span(remote):
        assert tokentrail.current_ids() == SpanIds("0" * 31 + "1", "0" * 15 + "2")


@pytest.fixture
def unset_capture_variable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The variable unset for the test, and unset again afterwards (setenv first, so monkeypatch restores it)."""
    monkeypatch.setenv(CAPTURE_SERVER_REQUEST_HEADERS, "")
    monkeypatch.delenv(CAPTURE_SERVER_REQUEST_HEADERS)
    yield
    tokentrail.uninstrument()


@pytest.mark.usefixtures("unset_capture_variable")
def test_fastapi_trace_id_header_and_request_id(standin, span_exporter, tracer_provider) -> None:
    pytest.importorskip("fastapi")
    import anthropic
    from fastapi import FastAPI, Request
    from fastapi.testclient import TestClient
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    tokentrail.instrument(tracer_provider=tracer_provider, metrics=False)  # before the FastAPI instrumentation
    assert os.environ[CAPTURE_SERVER_REQUEST_HEADERS] == semconv.REQUEST_ID_HEADER
    client = anthropic.Anthropic(api_key="test", base_url=standin.base_url, max_retries=0)
    app = FastAPI()

    @app.middleware("http")
    async def trace_id_header(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        ids = tokentrail.current_ids()
        if ids is not None:
            response.headers["X-Trace-Id"] = ids.trace_id
        return response

    @app.post("/ask")
    def ask() -> dict[str, str]:
        with tokentrail.attributes(call_type="rag_query"):
            client.messages.create(model=MODEL, max_tokens=20, messages=USER)
        return {"ok": "yes"}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider)
    try:
        with TestClient(app) as http:
            reply = http.post("/ask", headers={"X-Request-ID": "abc"})
    finally:
        FastAPIInstrumentor.uninstrument_app(app)
        client.close()
    assert reply.status_code == 200
    (server,) = [s for s in span_exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert attrs(server)[semconv.REQUEST_ID_ATTRIBUTE] == ("abc",)
    assert reply.headers["X-Trace-Id"] == f"{server.context.trace_id:032x}"
    (call,) = llm_spans(span_exporter)
    assert call.context.trace_id == server.context.trace_id
    assert attrs(call)[semconv.CALL_TYPE] == "rag_query"


@pytest.mark.usefixtures("unset_capture_variable")
def test_instrument_never_overrides_the_applications_choice(monkeypatch, tracer_provider) -> None:
    monkeypatch.setenv(CAPTURE_SERVER_REQUEST_HEADERS, "content-type")
    tokentrail.instrument(tracer_provider=tracer_provider, metrics=False)
    assert os.environ[CAPTURE_SERVER_REQUEST_HEADERS] == "content-type"
    tokentrail.uninstrument()
    monkeypatch.setenv(CAPTURE_SERVER_REQUEST_HEADERS, "")  # set, even empty: the application's choice
    tokentrail.instrument(tracer_provider=tracer_provider, metrics=False)
    assert os.environ[CAPTURE_SERVER_REQUEST_HEADERS] == ""
