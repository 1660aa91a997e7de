"""`tokentrail.llm_call`: a real OpenAI-compatible HTTP call (httpx to the stand-in's `/v1/chat/completions`),
recorded by hand, has the span shape of the anthropic instrumentation's calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import tokentrail
from tokentrail.contract import semconv
from tokentrail.dev.standin import StandinServer
from tokentrail.instrumentation import manual
from tokentrail.pricing import Usage, pricebook

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]


@pytest.fixture(autouse=True)
def instrumented_app(tracer_provider: TracerProvider, meter_provider: MeterProvider) -> Iterator[None]:
    tokentrail.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, capture_content=True)
    yield
    tokentrail.uninstrument()


def chat(standin: StandinServer, call: manual.ManualCall, **body: Any) -> dict[str, Any]:
    """One non-streamed chat completion, reported to `call` as an application would."""
    call.set_input(MESSAGES)
    reply = httpx.post(f"{standin.base_url}/v1/chat/completions", json={"model": MODEL, "messages": MESSAGES, **body})
    reply.raise_for_status()
    data: dict[str, Any] = reply.json()
    choice = data["choices"][0]
    call.set_output(choice["message"], finish_reason=choice["finish_reason"])
    usage = data["usage"]
    call.set_usage(
        input_tokens=usage["prompt_tokens"],
        output_tokens=usage["completion_tokens"],
        cache_read_input_tokens=usage["prompt_tokens_details"]["cached_tokens"],
        reasoning_tokens=usage["completion_tokens_details"]["reasoning_tokens"],
    )
    call.set_response(id=data["id"], model=data["model"])
    return data


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    [span] = [s for s in exporter.get_finished_spans() if s.name == f"chat {MODEL}"]
    return span


def test_a_chat_completion_gets_the_contract_span(
    standin: StandinServer, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    with (
        tokentrail.attributes(user_id="u-9", tags=["manual"]),
        tokentrail.llm_call(
            provider="openai", model=MODEL, server_address="127.0.0.1", server_port=standin.port, max_tokens=64
        ) as call,
    ):
        data = chat(standin, call)
    span = only_span(span_exporter)
    attrs = dict(span.attributes or {})
    assert span.kind is SpanKind.CLIENT
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == semconv.MANUAL_SCOPE
    assert span.status.status_code is StatusCode.UNSET
    usage = data["usage"]
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == MODEL
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attrs[semconv.SERVER_PORT] == standin.port
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == data["id"]
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == MODEL
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == usage["prompt_tokens"]
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == usage["completion_tokens"]
    assert attrs[semconv.USER_ID] == "u-9"
    assert attrs[semconv.TAGS] == ("manual",)
    expected = pricebook(None).cost(MODEL, Usage(usage["prompt_tokens"], usage["completion_tokens"]), provider="openai")
    assert expected is not None
    assert attrs[semconv.COST_USD] == pytest.approx(expected.usd)
    [system, user] = json.loads(str(attrs[semconv.GEN_AI_INPUT_MESSAGES]))
    assert system["role"] == "system"
    assert user["parts"] == [{"type": "text", "content": "hello there"}]
    [output] = json.loads(str(attrs[semconv.GEN_AI_OUTPUT_MESSAGES]))
    assert output["parts"] == [{"type": "text", "content": data["choices"][0]["message"]["content"]}]
    assert output["finish_reason"] == "stop"
    metrics = metric_reader.get_metrics_data()
    assert metrics is not None
    points = {
        m.name: m for rm in metrics.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }  # every instrument of the recorder
    assert {semconv.METRIC_TOKEN_USAGE, semconv.METRIC_OPERATION_DURATION, semconv.METRIC_COST} <= set(points)
    [duration] = points[semconv.METRIC_OPERATION_DURATION].data.data_points  # type: ignore[union-attr]
    assert duration.attributes is not None
    assert duration.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"


def test_a_streamed_completion_records_the_time_to_first_chunk(
    standin: StandinServer, span_exporter: InMemorySpanExporter
) -> None:
    body = {"model": MODEL, "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    text = ""
    with tokentrail.llm_call(provider="openai", model=MODEL, stream=True) as call:
        call.set_input(MESSAGES)
        with httpx.stream("POST", f"{standin.base_url}/v1/chat/completions", json=body) as reply:
            for line in reply.iter_lines():
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line[len("data: ") :])
                if chunk.get("usage"):
                    usage = chunk["usage"]
                    call.set_usage(input_tokens=usage["prompt_tokens"], output_tokens=usage["completion_tokens"])
                for choice in chunk["choices"]:
                    if choice["delta"].get("content"):
                        call.first_chunk()
                        text += choice["delta"]["content"]
                    if choice["finish_reason"]:
                        call.set_output(text, finish_reason=choice["finish_reason"])
    attrs = dict(only_span(span_exporter).attributes or {})
    assert text == "You said: hello there"
    assert attrs[semconv.GEN_AI_REQUEST_STREAM] is True
    ttfc = attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert isinstance(ttfc, float)
    assert ttfc > 0
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == usage["completion_tokens"]
    assert json.loads(str(attrs[semconv.GEN_AI_OUTPUT_MESSAGES]))[0]["parts"][0]["content"] == text


async def test_the_async_form_and_the_workflow_parent(
    standin: StandinServer, span_exporter: InMemorySpanExporter
) -> None:
    async with httpx.AsyncClient() as client:
        with tokentrail.workflow("answer"):
            async with tokentrail.llm_call(provider="openai", model=MODEL) as call:
                reply = await client.post(
                    f"{standin.base_url}/v1/chat/completions", json={"model": MODEL, "messages": MESSAGES}
                )
                call.set_output(reply.json()["choices"][0]["message"]["content"])
                await asyncio.sleep(0)
    span = only_span(span_exporter)
    [workflow] = [s for s in span_exporter.get_finished_spans() if s.name == "invoke_workflow answer"]
    assert span.parent is not None
    assert workflow.context is not None
    assert span.parent.span_id == workflow.context.span_id
    assert dict(span.attributes or {})[semconv.WORKFLOW_NAME] == "answer"


def test_an_exception_ends_the_call_as_an_error_and_propagates_unchanged(
    standin: StandinServer, span_exporter: InMemorySpanExporter
) -> None:
    raised = httpx.HTTPStatusError("boom", request=httpx.Request("POST", "http://x"), response=httpx.Response(429))
    with pytest.raises(httpx.HTTPStatusError) as caught, tokentrail.llm_call(provider="openai", model=MODEL):
        raise raised
    assert caught.value is raised
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})[semconv.ERROR_TYPE] == "httpx.HTTPStatusError"


def test_a_given_error_type_wins_raised_or_not(standin: StandinServer, span_exporter: InMemorySpanExporter) -> None:
    call = tokentrail.llm_call(provider="openai", model=MODEL)
    call.set_error_type("rate_limit_exceeded")  # before the block: the setters may come in any order
    with pytest.raises(RuntimeError), call:
        raise RuntimeError("429")
    with tokentrail.llm_call(provider="openai", model=MODEL) as call:
        call.set_error_type("content_filter")  # handled by the application: no exception
    first, second = [s for s in span_exporter.get_finished_spans() if s.name == f"chat {MODEL}"]
    assert dict(first.attributes or {})[semconv.ERROR_TYPE] == "rate_limit_exceeded"
    assert first.status.description == "429"
    assert dict(second.attributes or {})[semconv.ERROR_TYPE] == "content_filter"
    assert second.status.status_code is StatusCode.ERROR


def test_cancellation_is_not_an_error(span_exporter: InMemorySpanExporter) -> None:
    with pytest.raises(asyncio.CancelledError), tokentrail.llm_call(provider="openai", model=MODEL):
        raise asyncio.CancelledError
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.ERROR_TYPE not in dict(span.attributes or {})


def test_anthropic_usage_counts_are_totalled_by_the_contract_rule(span_exporter: InMemorySpanExporter) -> None:
    with tokentrail.llm_call(provider="anthropic", model="claude-haiku-4-5") as call:
        call.set_usage(input_tokens=10, output_tokens=5, cache_read_input_tokens=100, cache_creation_input_tokens=20)
    [span] = span_exporter.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 130
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 100
    expected = pricebook(None).cost("claude-haiku-4-5", Usage(10, 5, 100, 20), provider="anthropic")
    assert expected is not None
    assert attrs[semconv.COST_USD] == pytest.approx(expected.usd)


def test_no_content_when_the_policy_says_no(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    tokentrail.uninstrument()
    tokentrail.instrument(tracer_provider=tracer_provider, capture_content=False, metrics=False)
    with tokentrail.llm_call(provider="openai", model=MODEL) as call:
        call.set_input(MESSAGES)
        call.set_output("hi")
    attrs = dict(only_span(span_exporter).attributes or {})
    assert semconv.GEN_AI_INPUT_MESSAGES not in attrs
    assert semconv.GEN_AI_OUTPUT_MESSAGES not in attrs


def test_an_anthropic_call_inside_is_part_of_the_manual_call(
    anthropic_client: anthropic.Anthropic, span_exporter: InMemorySpanExporter
) -> None:
    with tokentrail.llm_call(provider="anthropic", model="claude-haiku-4-5", operation="chat"):
        anthropic_client.messages.create(
            model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "Hi."}]
        )
    assert [s.name for s in span_exporter.get_finished_spans()] == ["chat claude-haiku-4-5"]


def test_after_uninstrument_the_providers_of_instrument_are_left(span_exporter: InMemorySpanExporter) -> None:
    tokentrail.uninstrument()
    with tokentrail.llm_call(provider="openai", model=MODEL) as call:
        call.set_output("hi")
    assert span_exporter.get_finished_spans() == ()  # the global provider now, not the one instrument() was given
