"""Message Batches on the stand-in, through the real SDK."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest

from tokentrail.dev.standin import ErrorReply, StandinServer

MODEL = "claude-haiku-4-5"


def request(custom_id: str, text: str = "Summarise this", **params: Any) -> dict[str, Any]:
    body = {"model": MODEL, "max_tokens": 200, "messages": [{"role": "user", "content": text}], **params}
    return {"custom_id": custom_id, "params": body}


def test_create_retrieve_results(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    batch = anthropic_client.messages.batches.create(requests=[request("a"), request("b", "Other text")])  # type: ignore[list-item]

    assert batch.id.startswith("msgbatch_")
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 2
    assert batch.results_url is None
    ended = anthropic_client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts.succeeded == 2
    assert ended.ended_at is not None
    assert ended.results_url == f"{standin.base_url}/v1/messages/batches/{batch.id}/results"

    results = {line.custom_id: line.result for line in anthropic_client.messages.batches.results(batch.id)}
    assert set(results) == {"a", "b"}
    for custom_id, text in (("a", "Summarise this"), ("b", "Other text")):
        result = results[custom_id]
        assert result.type == "succeeded"
        assert result.message.model == MODEL
        assert text in result.message.content[0].text  # type: ignore[union-attr]
        assert result.message.usage.input_tokens > 0
        assert result.message.usage.output_tokens > 0


def test_invalid_item_is_errored(anthropic_client: anthropic.Anthropic) -> None:
    batch = anthropic_client.messages.batches.create(
        requests=[request("ok"), request("bad", max_tokens=0)]  # type: ignore[list-item]
    )
    results = {line.custom_id: line.result for line in anthropic_client.messages.batches.results(batch.id)}

    assert results["ok"].type == "succeeded"
    errored = results["bad"]
    assert errored.type == "errored"
    assert errored.error.error.type == "invalid_request_error"  # type: ignore[union-attr]
    assert anthropic_client.messages.batches.retrieve(batch.id).request_counts.errored == 1


async def test_async_batches_and_list(async_anthropic_client: anthropic.AsyncAnthropic) -> None:
    first = await async_anthropic_client.messages.batches.create(requests=[request("a")])  # type: ignore[list-item]
    second = await async_anthropic_client.messages.batches.create(requests=[request("b")])  # type: ignore[list-item]
    page = await async_anthropic_client.messages.batches.list()

    assert [batch.id for batch in page.data] == [second.id, first.id]
    lines = [line async for line in await async_anthropic_client.messages.batches.results(first.id)]
    assert [line.custom_id for line in lines] == ["a"]


def test_cancel_then_delete(anthropic_client: anthropic.Anthropic, standin: StandinServer) -> None:
    if not hasattr(anthropic_client.messages.batches, "delete"):
        pytest.skip("batches.delete arrived after this SDK generation")
    standin.batch_processing_s = 3600.0
    batch = anthropic_client.messages.batches.create(requests=[request("a")])  # type: ignore[list-item]

    assert anthropic_client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.batches.delete(batch.id)
    canceling = anthropic_client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    ended = anthropic_client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts.canceled == 1
    assert [line.result.type for line in anthropic_client.messages.batches.results(batch.id)] == ["canceled"]
    deleted = anthropic_client.messages.batches.delete(batch.id)
    assert deleted.id == batch.id
    assert deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client.messages.batches.retrieve(batch.id)


def test_results_before_the_end(standin: StandinServer, anthropic_client: anthropic.Anthropic) -> None:
    standin.batch_processing_s = 3600.0
    batch = anthropic_client.messages.batches.create(requests=[request("a")])  # type: ignore[list-item]
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=standin.base_url) as client:
        response = client.get(f"/v1/messages/batches/{batch.id}/results", headers=headers)

    assert response.status_code == 400
    with pytest.raises(anthropic.AnthropicError, match="results_url"):
        anthropic_client.messages.batches.results(batch.id)


def test_beta_batches(anthropic_client: anthropic.Anthropic) -> None:
    batch = anthropic_client.beta.messages.batches.create(requests=[request("a")])  # type: ignore[list-item]
    ended = anthropic_client.beta.messages.batches.retrieve(batch.id)

    assert ended.processing_status == "ended"
    assert [line.result.type for line in anthropic_client.beta.messages.batches.results(batch.id)] == ["succeeded"]


@pytest.mark.parametrize(
    "requests",
    [[], [{"custom_id": "a"}], [request("same"), request("same")]],
)
def test_invalid_batches_are_rejected(anthropic_client: anthropic.Anthropic, requests: list[Any]) -> None:
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.batches.create(requests=requests)


def test_batch_endpoints_take_error_scripts(standin: StandinServer) -> None:
    standin.enqueue(ErrorReply.overloaded())
    with anthropic.Anthropic(api_key="test", base_url=standin.base_url, max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError):
            client.messages.batches.create(requests=[request("a")])  # type: ignore[list-item]
        assert client.messages.batches.create(requests=[request("a")]).processing_status == "in_progress"  # type: ignore[list-item]
