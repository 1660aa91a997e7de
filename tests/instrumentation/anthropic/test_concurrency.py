"""Concurrent calls (threads, asyncio tasks, interleaved streams): one span each, under the right parent."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import trace

from tests.fixtures.spans import MODEL, attrs, llm_spans
from tokentrail.contract import semconv

pytestmark = pytest.mark.usefixtures("instrumented")

N = 8


def _parents(span_exporter) -> dict[str, int]:
    """LLM span's user message -> its parent span id."""
    found = {}
    for span in llm_spans(span_exporter):
        assert span.parent is not None
        found[attrs(span)[semconv.GEN_AI_INPUT_MESSAGES]] = span.parent.span_id
    return found


def test_threads(anthropic_client, span_exporter, tracer_provider):
    tracer = tracer_provider.get_tracer("test")

    def work(i: int) -> int:
        with tracer.start_as_current_span(f"job {i}") as parent:
            messages = [{"role": "user", "content": f"job {i}"}]
            if i % 2:
                anthropic_client.messages.create(model=MODEL, max_tokens=30, messages=messages)
            else:
                with anthropic_client.messages.stream(model=MODEL, max_tokens=30, messages=messages) as stream:
                    stream.until_done()
            return parent.get_span_context().span_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        parent_ids = list(pool.map(work, range(N)))
    spans = llm_spans(span_exporter)
    assert len(spans) == N
    by_message = _parents(span_exporter)
    for i, parent_id in enumerate(parent_ids):
        (key,) = [k for k in by_message if f'"job {i}"' in k]
        assert by_message[key] == parent_id


async def test_asyncio_tasks(async_anthropic_client, span_exporter, tracer_provider):
    tracer = tracer_provider.get_tracer("test")

    async def work(i: int) -> int:
        with tracer.start_as_current_span(f"task {i}") as parent:
            messages = [{"role": "user", "content": f"task {i}"}]
            if i % 2:
                await async_anthropic_client.messages.create(model=MODEL, max_tokens=30, messages=messages)
            else:
                stream = await async_anthropic_client.messages.create(
                    model=MODEL, max_tokens=30, messages=messages, stream=True
                )
                async for _ in stream:
                    await asyncio.sleep(0)  # let the other tasks interleave their reads
            assert trace.get_current_span() is parent
            return parent.get_span_context().span_id

    parent_ids = await asyncio.gather(*(work(i) for i in range(N)))
    by_message = _parents(span_exporter)
    assert len(by_message) == N
    for i, parent_id in enumerate(parent_ids):
        (key,) = [k for k in by_message if f'"task {i}"' in k]
        assert by_message[key] == parent_id


def test_interleaved_streams_in_one_thread(anthropic_client, span_exporter, tracer_provider):
    tracer = tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("outer") as outer:
        first = anthropic_client.messages.create(
            model=MODEL, max_tokens=30, messages=[{"role": "user", "content": "a"}], stream=True
        )
        second = anthropic_client.messages.create(
            model=MODEL, max_tokens=30, messages=[{"role": "user", "content": "b"}], stream=True
        )
        done = {"a": False, "b": False}
        while not all(done.values()):
            for name, stream in (("a", first), ("b", second)):
                if not done[name]:
                    try:
                        next(stream)
                    except StopIteration:
                        done[name] = True
                    assert trace.get_current_span() is outer
    spans = llm_spans(span_exporter)
    assert len(spans) == 2
    assert {span.parent.span_id for span in spans} == {outer.get_span_context().span_id}
    assert all(attrs(span)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",) for span in spans)
