"""Bedrock, Vertex and Foundry clients share the resource classes: same spans, with their platform and endpoint."""

from __future__ import annotations

import importlib

import anthropic
import pytest

from tests.fixtures.sdk import requires_foundry
from tests.fixtures.spans import USER, attrs, llm_spans, only_span
from tests.fixtures.standin import FOUNDRY_API_KEY
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.dev.standin import MessageReply, Usage
from tokentrail.instrumentation.anthropic.client import platform_of, server_of

BEDROCK_MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"
VERTEX_MODEL = "claude-haiku-4-5@20251001"
FOUNDRY_MODEL = "claude-haiku-4-5"
"""Foundry deployments are named after the Anthropic model (priced as it: $1 / $5 per MTok)."""


@pytest.mark.usefixtures("instrumented")
def test_bedrock_create_and_stream(bedrock_client, span_exporter, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=40, output_tokens=8)))
    bedrock_client.messages.create(model=BEDROCK_MODEL, max_tokens=20, messages=USER)
    span = only_span(span_exporter)
    a = attrs(span)
    assert span.name == f"chat {BEDROCK_MODEL}"
    assert a[anthropic_contract.CLIENT_PLATFORM] == "bedrock"
    assert a[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert a[semconv.GEN_AI_REQUEST_MODEL] == BEDROCK_MODEL
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert a[semconv.COST_USD] > 0
    assert "/model/" in standin.requests[-1].path
    span_exporter.clear()

    standin.enqueue(MessageReply(usage=Usage(input_tokens=40, output_tokens=8)))
    with bedrock_client.messages.stream(model=BEDROCK_MODEL, max_tokens=200, messages=USER) as stream:
        stream.until_done()
    a = attrs(only_span(span_exporter))
    assert a[anthropic_contract.CLIENT_PLATFORM] == "bedrock"
    assert (a[semconv.GEN_AI_USAGE_INPUT_TOKENS], a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (40, 8)
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


@pytest.mark.usefixtures("instrumented")
async def test_async_vertex_create_and_stream(async_vertex_client, span_exporter, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=40, output_tokens=8)))
    await async_vertex_client.messages.create(model=VERTEX_MODEL, max_tokens=20, messages=USER)
    a = attrs(only_span(span_exporter))
    assert a[anthropic_contract.CLIENT_PLATFORM] == "vertex"
    assert a[semconv.GEN_AI_REQUEST_MODEL] == VERTEX_MODEL
    assert ":rawPredict" in standin.requests[-1].path
    span_exporter.clear()

    stream = await async_vertex_client.messages.create(model=VERTEX_MODEL, max_tokens=20, messages=USER, stream=True)
    async for _ in stream:
        pass
    a = attrs(only_span(span_exporter))
    assert a[anthropic_contract.CLIENT_PLATFORM] == "vertex"
    assert a[semconv.GEN_AI_REQUEST_STREAM] is True


def _assert_foundry(span, standin, *, stream: bool, cost: float) -> None:
    a = attrs(span)
    assert span.name == f"chat {FOUNDRY_MODEL}"
    assert a[anthropic_contract.CLIENT_PLATFORM] == "foundry"
    assert a[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert (a[semconv.SERVER_ADDRESS], a[semconv.SERVER_PORT]) == ("127.0.0.1", standin.port)
    assert a[semconv.COST_USD] == pytest.approx(cost)
    assert (semconv.GEN_AI_REQUEST_STREAM in a) is stream
    request = standin.requests[-1]
    assert request.path == "/anthropic/v1/messages"
    assert request.headers["api-key"] == FOUNDRY_API_KEY


@pytest.mark.usefixtures("instrumented")
def test_foundry_create_and_stream(foundry_client, span_exporter, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=40, output_tokens=8)))
    foundry_client.messages.create(model=FOUNDRY_MODEL, max_tokens=20, messages=USER)
    _assert_foundry(only_span(span_exporter), standin, stream=False, cost=40e-6 + 8 * 5e-6)
    span_exporter.clear()

    standin.enqueue(MessageReply(usage=Usage(input_tokens=40, output_tokens=8)))
    with foundry_client.messages.stream(model=FOUNDRY_MODEL, max_tokens=200, messages=USER) as stream:
        stream.until_done()
    span = only_span(span_exporter)
    _assert_foundry(span, standin, stream=True, cost=40e-6 + 8 * 5e-6)
    assert attrs(span)[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    span_exporter.clear()

    foundry_client.beta.messages.create(model=FOUNDRY_MODEL, max_tokens=20, messages=USER, stream=True).close()
    assert len(llm_spans(span_exporter)) == 1


@pytest.mark.usefixtures("instrumented")
async def test_async_foundry_create_and_stream(async_foundry_client, span_exporter, standin):
    standin.enqueue(MessageReply(usage=Usage(input_tokens=40, output_tokens=8)))
    await async_foundry_client.messages.create(model=FOUNDRY_MODEL, max_tokens=20, messages=USER)
    _assert_foundry(only_span(span_exporter), standin, stream=False, cost=40e-6 + 8 * 5e-6)
    span_exporter.clear()

    standin.enqueue(MessageReply(usage=Usage(input_tokens=30, output_tokens=10)))
    stream = await async_foundry_client.messages.create(model=FOUNDRY_MODEL, max_tokens=20, messages=USER, stream=True)
    async for _ in stream:
        pass
    _assert_foundry(only_span(span_exporter), standin, stream=True, cost=30e-6 + 10 * 5e-6)
    span_exporter.clear()

    standin.enqueue(MessageReply(usage=Usage(input_tokens=30, output_tokens=10)))
    async with async_foundry_client.messages.stream(model=FOUNDRY_MODEL, max_tokens=20, messages=USER) as managed:
        await managed.get_final_message()
    _assert_foundry(only_span(span_exporter), standin, stream=True, cost=30e-6 + 10 * 5e-6)


@requires_foundry
def test_foundry_endpoint_and_platform():
    client = anthropic.AnthropicFoundry(api_key="k", resource="my-resource")  # type: ignore[attr-defined]
    try:
        assert server_of(client) == ("my-resource.services.ai.azure.com", 443)
        assert platform_of(client) == "foundry"
    finally:
        client.close()


def test_clients_made_before_instrumenting_are_traced(
    vertex_client, span_exporter, tracer_provider, meter_provider, tokentrail_settings
):
    from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, settings=tokentrail_settings
    )
    try:
        vertex_client.messages.create(model=VERTEX_MODEL, max_tokens=20, messages=USER)
    finally:
        instrumentor.uninstrument()
    assert attrs(only_span(span_exporter))[anthropic_contract.CLIENT_PLATFORM] == "vertex"


def test_real_endpoints():
    pytest.importorskip("botocore")
    pytest.importorskip("google.auth")
    bedrock = anthropic.AnthropicBedrock(aws_access_key="a", aws_secret_key="b", aws_region="eu-west-3")
    vertex = anthropic.AnthropicVertex(access_token="t", project_id="p", region="us-east5")
    direct = anthropic.Anthropic(api_key="k")
    assert server_of(bedrock) == ("bedrock-runtime.eu-west-3.amazonaws.com", 443)
    assert server_of(vertex) == ("us-east5-aiplatform.googleapis.com", 443)
    assert server_of(direct) == ("api.anthropic.com", 443)
    assert [platform_of(c) for c in (bedrock, vertex, direct)] == ["bedrock", "vertex", "anthropic"]
    for client in (bedrock, vertex, direct):
        client.close()


@requires_foundry
@pytest.mark.sdk_native_tracing
@pytest.mark.skipif(
    not hasattr(importlib.import_module("anthropic._base_client"), "start_api_call_span"),
    reason="this anthropic SDK emits no call spans of its own",
)
@pytest.mark.usefixtures("instrumented")
def test_foundry_with_an_entra_token_and_the_sdks_own_tracing_is_one_span(standin, span_exporter, tracer_provider):
    client = anthropic.AnthropicFoundry(  # type: ignore[attr-defined]
        azure_ad_token_provider=lambda: "entra-token",
        base_url=f"{standin.base_url}/anthropic/",
        open_telemetry={"tracer_provider": tracer_provider},
    )
    with client:
        standin.enqueue(MessageReply(usage=Usage(input_tokens=40, output_tokens=8)))
        client.messages.create(model=FOUNDRY_MODEL, max_tokens=20, messages=USER)
    span = only_span(span_exporter)
    assert len(span_exporter.get_finished_spans()) == 1  # no SDK call span beside ours
    assert attrs(span)[anthropic_contract.CLIENT_PLATFORM] == "foundry"
    assert standin.requests[-1].headers["authorization"] == "Bearer entra-token"
    context = span.get_span_context()
    assert standin.requests[-1].headers["traceparent"].startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
