"""The Vertex AI flavour of the stand-in, through the SDK's `AnthropicVertex` clients."""

from __future__ import annotations

import anthropic
import pytest

from tokentrail.dev.standin import ErrorReply, StandinServer, StreamError

pytest.importorskip("google.auth")

MODEL = "claude-haiku-4-5@20251001"
HELLO = [{"role": "user", "content": "Hello from Vertex"}]
PREFIX = "/projects/test-project/locations/us-east5/publishers/anthropic/models"


def test_raw_predict(vertex_client: anthropic.AnthropicVertex, standin: StandinServer) -> None:
    message = vertex_client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)  # type: ignore[arg-type]

    assert message.id.startswith("msg_vrtx_")
    assert message.model == "claude-haiku-4-5-20251001"
    assert "Hello from Vertex" in message.content[0].text  # type: ignore[union-attr]
    recorded = standin.requests[-1]
    assert recorded.flavour == "vertex"
    assert recorded.path == f"{PREFIX}/{MODEL}:rawPredict"
    assert recorded.headers["authorization"] == "Bearer test"
    assert recorded.json["anthropic_version"]


def test_stream_raw_predict(vertex_client: anthropic.AnthropicVertex, standin: StandinServer) -> None:
    with vertex_client.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream:  # type: ignore[arg-type]
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert final.content[0].text == text  # type: ignore[union-attr]
    assert final.usage.output_tokens > 1
    assert standin.requests[-1].path == f"{PREFIX}/{MODEL}:streamRawPredict"


def test_count_tokens(vertex_client: anthropic.AnthropicVertex, standin: StandinServer) -> None:
    count = vertex_client.messages.count_tokens(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    message = vertex_client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)  # type: ignore[arg-type]

    assert count.input_tokens == message.usage.input_tokens
    assert standin.requests[0].path == f"{PREFIX}/count-tokens:rawPredict"


async def test_async_vertex(async_vertex_client: anthropic.AsyncAnthropicVertex) -> None:
    async with async_vertex_client.messages.stream(
        model=MODEL,
        max_tokens=200,
        messages=HELLO,  # type: ignore[arg-type]
    ) as stream:
        pieces = [piece async for piece in stream.text_stream]

    assert "Hello from Vertex" in "".join(pieces)


def test_errors(standin: StandinServer) -> None:
    standin.enqueue(ErrorReply.rate_limit(), ErrorReply.overloaded())
    with anthropic.AnthropicVertex(
        access_token="t", project_id="p", region="us-east5", base_url=standin.base_url, max_retries=0
    ) as client:
        with pytest.raises(anthropic.RateLimitError) as limited:
            client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)  # type: ignore[arg-type]
        with pytest.raises(anthropic.APIStatusError) as overloaded:  # OverloadedError is not public on 0.x
            client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)  # type: ignore[arg-type]

    assert isinstance(limited.value.body, dict)
    assert limited.value.body["error"]["status"] == "RESOURCE_EXHAUSTED"  # Google's own envelope
    assert overloaded.value.status_code == 529
    assert isinstance(overloaded.value.body, dict)
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # passed through from Anthropic


def test_error_event_mid_stream(vertex_client: anthropic.AnthropicVertex, standin: StandinServer) -> None:
    standin.enqueue(StreamError())
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        vertex_client.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream,  # type: ignore[arg-type]
    ):
        stream.until_done()

    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "overloaded_error"
