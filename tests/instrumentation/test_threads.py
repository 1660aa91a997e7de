"""Calls made on other threads inside `attributes()` / `workflow()` keep the user, the workflow and the trace parent.

`tokentrail.instrument()` enables the OpenTelemetry threading instrumentation; the real SDK calls the stand-in
from a `ThreadPoolExecutor`, `loop.run_in_executor`, `asyncio.to_thread` and a plain `threading.Thread`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import pytest
from opentelemetry.instrumentation.threading import ThreadingInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tokentrail
from tokentrail.contract import semconv

MODEL = "claude-haiku-4-5"
WORKFLOW = "fan_out"


@pytest.fixture(autouse=True)
def instrumented_app(tracer_provider: TracerProvider) -> Iterator[None]:
    if ThreadingInstrumentor().is_instrumented_by_opentelemetry:  # left on elsewhere: start from a clean slate
        ThreadingInstrumentor().uninstrument()
    tokentrail.instrument(tracer_provider=tracer_provider, metrics=False, capture_content=False)
    yield
    tokentrail.uninstrument()


def ask(client: anthropic.Anthropic, text: str = "Hi.") -> Any:
    return client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": text}])


def assert_fanned_out(exporter: InMemorySpanExporter, calls: int) -> None:
    spans = exporter.get_finished_spans()
    [workflow] = [s for s in spans if s.name == f"invoke_workflow {WORKFLOW}"]
    chats: list[ReadableSpan] = [s for s in spans if s.name == f"chat {MODEL}"]
    assert len(chats) == calls
    for chat in chats:
        assert chat.context is not None
        assert workflow.context is not None
        assert chat.context.trace_id == workflow.context.trace_id
        assert chat.parent is not None
        assert chat.parent.span_id == workflow.context.span_id
        assert chat.attributes is not None
        assert chat.attributes[semconv.USER_ID] == "u-7"
        assert chat.attributes[semconv.WORKFLOW_NAME] == WORKFLOW


def test_thread_pool_calls_keep_the_user_the_workflow_and_the_parent(
    anthropic_client: anthropic.Anthropic, span_exporter: InMemorySpanExporter
) -> None:
    with tokentrail.attributes(user_id="u-7"), tokentrail.workflow(WORKFLOW), ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda text: ask(anthropic_client, text), ["a", "b", "c"]))
    assert len(replies) == 3
    assert_fanned_out(span_exporter, 3)


async def test_run_in_executor_and_to_thread_keep_the_context(
    anthropic_client: anthropic.Anthropic, span_exporter: InMemorySpanExporter
) -> None:
    loop = asyncio.get_running_loop()
    with tokentrail.attributes(user_id="u-7"), tokentrail.workflow(WORKFLOW):
        await loop.run_in_executor(None, ask, anthropic_client)
        with ThreadPoolExecutor(2) as pool:
            await loop.run_in_executor(pool, ask, anthropic_client)
        await asyncio.to_thread(ask, anthropic_client)
    assert_fanned_out(span_exporter, 3)


def test_a_plain_thread_keeps_the_context(
    anthropic_client: anthropic.Anthropic, span_exporter: InMemorySpanExporter
) -> None:
    with tokentrail.attributes(user_id="u-7"), tokentrail.workflow(WORKFLOW):
        thread = threading.Thread(target=ask, args=(anthropic_client,))
        thread.start()
        thread.join()
    assert_fanned_out(span_exporter, 1)


def test_uninstrument_stops_the_propagation_it_started(
    anthropic_client: anthropic.Anthropic, span_exporter: InMemorySpanExporter
) -> None:
    assert ThreadingInstrumentor().is_instrumented_by_opentelemetry
    tokentrail.uninstrument()
    assert not ThreadingInstrumentor().is_instrumented_by_opentelemetry


def test_threading_the_application_instrumented_is_left_alone(tracer_provider: TracerProvider) -> None:
    tokentrail.uninstrument()
    ThreadingInstrumentor().instrument()
    try:
        tokentrail.instrument(tracer_provider=tracer_provider, metrics=False)
        tokentrail.uninstrument()
        assert ThreadingInstrumentor().is_instrumented_by_opentelemetry
    finally:
        ThreadingInstrumentor().uninstrument()


def in_pool(fn: Callable[[], Any]) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def test_without_instrumentation_a_pool_loses_the_user(
    anthropic_client: anthropic.Anthropic, span_exporter: InMemorySpanExporter, tracer_provider: TracerProvider
) -> None:
    """The control: the propagation above is the instrumentation's doing, not the pool's."""
    tokentrail.uninstrument()
    from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(tracer_provider=tracer_provider)
    try:
        with tokentrail.attributes(user_id="u-7"):
            in_pool(lambda: ask(anthropic_client))
    finally:
        AnthropicInstrumentor().uninstrument()
    [chat] = [s for s in span_exporter.get_finished_spans() if s.name == f"chat {MODEL}"]
    assert chat.attributes is not None
    assert semconv.USER_ID not in chat.attributes
