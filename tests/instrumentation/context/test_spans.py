"""Workflow spans (`tokentrail.workflow`) on real OpenTelemetry SDK spans: decorators, errors, nesting, generators."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import tokentrail
from tokentrail.contract import semconv
from tokentrail.instrumentation import context
from tokentrail.instrumentation.context import current_attributes


@pytest.fixture(autouse=True)
def workflow_provider(tracer_provider: TracerProvider) -> Iterator[None]:
    context.set_tracer_provider(tracer_provider)
    yield
    context.set_tracer_provider(None)


def finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


class PaymentDeclinedError(Exception):
    pass


def test_workflow_decorator_makes_one_internal_span_around_the_calls(
    span_exporter: InMemorySpanExporter, tracer_provider: TracerProvider
) -> None:
    tracer = tracer_provider.get_tracer("test")

    @tokentrail.workflow("answer_question", user_id="u-7", tags=["faq"])
    def answer() -> Mapping[str, object]:
        with tracer.start_as_current_span("chat claude-haiku-4-5", kind=SpanKind.CLIENT):
            return dict(current_attributes())

    seen = answer()
    spans = finished(span_exporter)
    assert [s.name for s in spans] == ["chat claude-haiku-4-5", "invoke_workflow answer_question"]
    child, workflow_span = spans
    assert workflow_span.kind is SpanKind.INTERNAL
    assert child.parent is not None
    assert child.parent.span_id == workflow_span.context.span_id
    assert workflow_span.attributes is not None
    assert workflow_span.attributes[semconv.GEN_AI_OPERATION_NAME] == "invoke_workflow"
    assert workflow_span.attributes[semconv.WORKFLOW_NAME] == "answer_question"
    assert workflow_span.attributes[semconv.USER_ID] == "u-7"
    assert workflow_span.status.status_code is StatusCode.UNSET
    assert seen[semconv.WORKFLOW_NAME] == "answer_question"
    assert seen[semconv.TAGS] == ("faq",)


def test_workflow_records_the_exception_and_reraises_the_same_object(span_exporter: InMemorySpanExporter) -> None:
    error = PaymentDeclinedError("card declined")

    @tokentrail.workflow("pay")
    def pay() -> None:
        raise error

    with pytest.raises(PaymentDeclinedError) as info:
        pay()
    assert info.value is error
    [span] = finished(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes[semconv.ERROR_TYPE] == f"{__name__}.PaymentDeclinedError"
    assert [event.name for event in span.events] == ["exception"]

    with pytest.raises(KeyError), tokentrail.workflow("lookup"):
        raise KeyError("k")
    assert finished(span_exporter)[-1].attributes[semconv.ERROR_TYPE] == "KeyError"  # type: ignore[index]


async def test_async_workflow_context_manager_nests_and_cancellation_is_not_an_error(
    span_exporter: InMemorySpanExporter,
) -> None:
    async with tokentrail.workflow("outer", session_id="s"), tokentrail.workflow("inner"):
        inner_attributes = dict(current_attributes())
    assert inner_attributes[semconv.WORKFLOW_NAME] == "inner"
    assert inner_attributes[semconv.SESSION_ID] == "s"
    inner, outer = finished(span_exporter)
    assert inner.parent is not None
    assert inner.parent.span_id == outer.context.span_id

    started = asyncio.Event()

    @tokentrail.workflow("slow")
    async def slow() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancelled = finished(span_exporter)[-1]
    assert cancelled.name == "invoke_workflow slow"
    assert cancelled.status.status_code is StatusCode.UNSET
    assert cancelled.attributes is not None
    assert semconv.ERROR_TYPE not in cancelled.attributes


async def test_async_generator_workflow_is_current_only_inside_the_generator(
    span_exporter: InMemorySpanExporter,
) -> None:
    @tokentrail.workflow("stream_answer")
    async def chunks() -> AsyncIterator[str]:
        for word in ("a", "b", "c"):
            yield f"{word}:{current_attributes().get(semconv.WORKFLOW_NAME)}"

    received = []
    async for chunk in chunks():
        received.append(chunk)
        assert semconv.WORKFLOW_NAME not in current_attributes()
        assert not trace.get_current_span().get_span_context().is_valid
    assert received == ["a:stream_answer", "b:stream_answer", "c:stream_answer"]

    stream = chunks()
    async for _ in stream:
        break
    await stream.aclose()
    spans = finished(span_exporter)
    assert [s.name for s in spans] == ["invoke_workflow stream_answer"] * 2
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


def test_sync_generator_workflow(span_exporter: InMemorySpanExporter) -> None:
    @tokentrail.workflow("pages")
    def pages() -> Iterator[object]:
        yield current_attributes().get(semconv.WORKFLOW_NAME)
        yield current_attributes().get(semconv.WORKFLOW_NAME)

    assert list(pages()) == ["pages", "pages"]
    assert [s.name for s in finished(span_exporter)] == ["invoke_workflow pages"]
