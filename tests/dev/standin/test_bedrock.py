"""The Bedrock flavour of the stand-in, through the SDK's `AnthropicBedrock` clients (SigV4 signed, event-stream)."""

from __future__ import annotations

import anthropic
import pytest

from tokentrail.dev.standin import ErrorReply, MessageReply, StandinServer, StreamError, TextBlock, Usage

pytest.importorskip("botocore")

MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
HELLO = [{"role": "user", "content": "Hello from Bedrock"}]


def test_invoke(bedrock_client: anthropic.AnthropicBedrock, standin: StandinServer) -> None:
    message = bedrock_client.messages.create(model=MODEL_ID, max_tokens=200, messages=HELLO)  # type: ignore[arg-type]

    assert message.id.startswith("msg_bdrk_")
    assert message.model == "claude-haiku-4-5-20251001"
    assert "Hello from Bedrock" in message.content[0].text  # type: ignore[union-attr]
    assert message.usage.input_tokens > 0
    recorded = standin.requests[-1]
    assert recorded.flavour == "bedrock"
    assert recorded.path == f"/model/{MODEL_ID}/invoke"
    assert "model" not in recorded.json
    assert recorded.json["anthropic_version"]
    assert recorded.headers["authorization"].startswith("AWS4-HMAC-SHA256")


def test_invoke_with_response_stream(bedrock_client: anthropic.AnthropicBedrock, standin: StandinServer) -> None:
    with bedrock_client.messages.stream(model=MODEL_ID, max_tokens=200, messages=HELLO) as stream:  # type: ignore[arg-type]
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    assert len(pieces) > 2
    assert final.content[0].text == "".join(pieces)  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 1
    assert standin.requests[-1].path == f"/model/{MODEL_ID}/invoke-with-response-stream"


def test_raw_stream_events(bedrock_client: anthropic.AnthropicBedrock, standin: StandinServer) -> None:
    standin.enqueue(MessageReply(content=[TextBlock("one two three four five six")], usage=Usage(input_tokens=9)))
    with bedrock_client.messages.create(
        model=MODEL_ID,
        max_tokens=200,
        messages=HELLO,  # type: ignore[arg-type]
        stream=True,
    ) as stream:
        events = list(stream)

    assert events[0].type == "message_start"
    assert events[0].message.usage.input_tokens == 9
    assert events[-1].type == "message_stop"
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text == "one two three four five six"


async def test_async_bedrock(async_bedrock_client: anthropic.AsyncAnthropicBedrock) -> None:
    message = await async_bedrock_client.messages.create(model=MODEL_ID, max_tokens=200, messages=HELLO)  # type: ignore[arg-type]
    async with async_bedrock_client.messages.stream(
        model=MODEL_ID,
        max_tokens=200,
        messages=HELLO,  # type: ignore[arg-type]
    ) as stream:
        final = await stream.get_final_message()

    assert final.content[0].text == message.content[0].text  # type: ignore[union-attr]


def test_http_error_has_the_bedrock_shape(standin: StandinServer) -> None:
    standin.enqueue(ErrorReply.rate_limit())
    with (
        anthropic.AnthropicBedrock(
            aws_access_key="a", aws_secret_key="b", aws_region="us-east-1", base_url=standin.base_url, max_retries=0
        ) as client,
        pytest.raises(anthropic.RateLimitError) as caught,
    ):
        client.messages.create(model=MODEL_ID, max_tokens=200, messages=HELLO)  # type: ignore[arg-type]

    assert caught.value.body == {"message": "Number of request tokens has exceeded your per-minute rate limit."}
    assert caught.value.response.headers["x-amzn-errortype"].startswith("ThrottlingException")


def test_exception_frame_mid_stream(bedrock_client: anthropic.AnthropicBedrock, standin: StandinServer) -> None:
    standin.enqueue(StreamError(after_events=3))
    received: list[str] = []
    # SDKs from 1.x surface the frame as an `error` event (APIStatusError); 0.x raises ValueError from its decoder
    with (
        pytest.raises((anthropic.APIStatusError, ValueError)) as caught,
        bedrock_client.messages.create(
            model=MODEL_ID,
            max_tokens=200,
            messages=HELLO,  # type: ignore[arg-type]
            stream=True,
        ) as stream,
    ):
        received.extend(event.type for event in stream)

    assert [name for name in received if name != "ping"] == ["message_start", "content_block_start"]  # 0.x keeps pings
    if isinstance(caught.value, anthropic.APIStatusError):
        assert isinstance(caught.value.body, dict)
        assert caught.value.body["error"]["type"] == "serviceUnavailableException"
    else:
        assert "serviceUnavailableException" in str(caught.value)


def test_invalid_body_is_a_validation_error(standin: StandinServer) -> None:
    import httpx

    with httpx.Client(base_url=standin.base_url) as client:
        response = client.post(f"/model/{MODEL_ID}/invoke", json={"messages": HELLO})

    assert response.status_code == 400
    assert response.json() == {"message": "max_tokens: Field required"}
    assert response.headers["x-amzn-errortype"].startswith("ValidationException")
    assert response.headers["x-amzn-requestid"] == response.headers["request-id"]


def test_inference_profile_arn(bedrock_client: anthropic.AnthropicBedrock, standin: StandinServer) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0"
    message = bedrock_client.messages.create(model=arn, max_tokens=100, messages=HELLO)  # type: ignore[arg-type]

    assert message.model == "claude-haiku-4-5-20251001"
    assert standin.requests[-1].path == f"/model/{arn}/invoke"
