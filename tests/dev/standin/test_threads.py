"""Message threads and the Foundry path of the stand-in, on the wire (raw HTTP) and through the real SDK."""

from __future__ import annotations

from typing import Any

import httpx

from tests.dev.standin.test_server import MODEL, raw_post
from tests.fixtures.sdk import requires_threads
from tokentrail.dev.standin import StandinServer
from tokentrail.dev.standin._usage import estimate_input_tokens

BETA = {"anthropic-beta": "message-threads-2026-08-12"}


def _turn(standin: StandinServer, content: str, thread: dict[str, Any], **fields: Any) -> httpx.Response:
    body = {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": content}], "thread": thread}
    return raw_post(standin, "/v1/messages", {**body, **fields}, **BETA)


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def test_a_continue_answers_the_held_conversation(standin: StandinServer) -> None:
    first = _turn(standin, "Hello there", {"type": "create"}, system="Be brief.")
    assert first.status_code == 200
    reply = first.json()
    second = _turn(standin, "And again", {"type": "continue", "previous_message_id": reply["id"]})
    assert second.status_code == 200
    answer = second.json()
    assert "And again" in answer["content"][0]["text"]
    held = {
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": reply["content"]},
            {"role": "user", "content": "And again"},
        ],
    }
    assert answer["usage"]["input_tokens"] == estimate_input_tokens(held)  # the model reads all of it
    third = _turn(standin, "Third", {"type": "continue", "previous_message_id": answer["id"]})
    assert third.status_code == 200


def test_thread_errors_are_the_apis(standin: StandinServer) -> None:
    missing = _turn(standin, "Hi", {"type": "continue", "previous_message_id": "msg_01unknown"})
    assert missing.status_code == 404
    assert _error(missing)["details"] == {"error_code": "thread_not_found"}
    assert _error(missing)["type"] == "not_found_error"

    created = _turn(standin, "Hi", {"type": "create"}).json()["id"]
    assert _turn(standin, "One", {"type": "continue", "previous_message_id": created}).status_code == 200
    again = _turn(standin, "Two", {"type": "continue", "previous_message_id": created})
    assert again.status_code == 400
    assert _error(again)["details"] == {"error_code": "thread_already_continued"}

    created = _turn(standin, "Hi", {"type": "create"}).json()["id"]
    repeated = _turn(standin, "One", {"type": "continue", "previous_message_id": created}, system="No.")
    assert repeated.status_code == 400
    assert "system" in _error(repeated)["message"]

    body = {
        "model": MODEL,
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "x"}],
        "thread": {"type": "create"},
    }
    no_beta = raw_post(standin, "/v1/messages", body)
    assert no_beta.status_code == 400
    assert "message-threads" in _error(no_beta)["message"]


@requires_threads
def test_the_sdk_recovers_a_lost_thread(anthropic_client, standin: StandinServer) -> None:
    thread = anthropic_client.beta.messages.thread(model=MODEL, max_tokens=100)
    thread.send({"role": "user", "content": "Hello there"})
    standin.reset()
    reply = thread.send({"role": "user", "content": "And again"})
    assert "And again" in reply.content[0].text
    lost, replay = standin.requests
    assert lost.json["thread"]["type"] == "continue"
    assert replay.json["thread"] == {"type": "create"}
    assert len(replay.json["messages"]) == 3


def test_foundry_serves_messages_under_its_path(standin: StandinServer) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    headers = {"anthropic-version": "2023-06-01", "content-type": "application/json"}
    with httpx.Client(base_url=standin.base_url) as client:
        keyed = client.post("/anthropic/v1/messages", json=body, headers={**headers, "api-key": "k"})
        bearer = client.post("/anthropic/v1/messages", json=body, headers={**headers, "authorization": "Bearer t"})
        anonymous = client.post("/anthropic/v1/messages", json=body, headers=headers)
        batches = client.post("/anthropic/v1/messages/batches", json={}, headers={**headers, "api-key": "k"})
        counted = client.post(
            "/anthropic/v1/messages/count_tokens",
            json={"model": MODEL, "messages": body["messages"]},
            headers={**headers, "api-key": "k"},
        )
    assert keyed.status_code == bearer.status_code == counted.status_code == 200
    assert anonymous.status_code == 401
    assert batches.status_code == 404  # Foundry has no batches
    assert standin.requests[0].flavour == "foundry"


def test_a_request_without_thread_is_not_held(standin: StandinServer) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    plain = raw_post(standin, "/v1/messages", body).json()
    follow = _turn(standin, "y", {"type": "continue", "previous_message_id": plain["id"]})
    assert follow.status_code == 404
