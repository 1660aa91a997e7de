"""The workload: the requests the demo sends to the example app, and sending them concurrently."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

__all__ = ["QUESTIONS", "USERS", "DemoRequest", "DemoResult", "run_workload", "workload"]


@dataclass(frozen=True)
class DemoRequest:
    """One request to the example app, and how many LLM calls it makes if it succeeds or fails."""

    path: str
    body: Mapping[str, object]
    headers: Mapping[str, str]
    calls_ok: int
    calls_failed: int = 1


@dataclass(frozen=True)
class DemoResult:
    request: DemoRequest
    status: int
    seconds: float

    @property
    def llm_calls(self) -> int:
        return self.request.calls_ok if self.status == 200 else self.request.calls_failed


QUESTIONS = (
    "How long does a refund take to reach my card?",
    "Can I switch from the annual plan to monthly in the middle of the year?",
    "How do I export all of our workspace data?",
    "Does the Business plan include single sign-on with Okta?",
    "We keep hitting a limit on concurrent jobs. Can it be raised?",
)
USERS = ("alice", "bob", "carol", "dave")


def workload(quick: bool = False, scripted_errors: bool = True) -> list[DemoRequest]:
    """Several users asking questions (prompt versions v1 and v2 alternating) and streamed chats; with
    `scripted_errors` (the stand-in; the real API ignores the scenario header) also a call that is rate limited once
    and retried, and a request the stand-in answers `overloaded` on every attempt."""
    answers = 4 if quick else 10
    requests: list[DemoRequest] = []
    for number in range(answers):
        user = USERS[number % len(USERS)]
        requests.append(
            DemoRequest(
                "/answer",
                {"question": QUESTIONS[number % len(QUESTIONS)], "session_id": f"{user}-session-{number // 4}"},
                {"x-user-id": user, "x-prompt-version": "v1" if number % 2 == 0 else "v2"},
                calls_ok=3,
            )
        )
    for number in range(1 if quick else 3):
        requests.append(
            DemoRequest(
                "/chat",
                {"message": "Give me one tip for writing good support replies.", "stream": number % 2 == 0},
                {"x-user-id": USERS[number % len(USERS)]},
                calls_ok=1,
            )
        )
    if scripted_errors:
        requests.append(  # rate limited once: the SDK retries inside the one call span, which ends ok
            DemoRequest(
                "/chat",
                {"message": "Summarise our refund policy in one line."},
                {"x-user-id": "erin", "x-standin-scenario": "rate_limit_once"},
                calls_ok=1,
            )
        )
        requests.append(
            DemoRequest(
                "/answer",
                {"question": "Is the service up?"},
                {"x-user-id": "erin", "x-prompt-version": "v2", "x-standin-scenario": "overloaded"},
                calls_ok=3,
                calls_failed=1,  # the first call fails (after the SDK's retry), so the workflow stops there
            )
        )
    return requests


def _send(base_url: str, request: DemoRequest) -> DemoResult:
    data = json.dumps(request.body).encode()
    headers = {"content-type": "application/json", **request.headers}
    started = time.perf_counter()
    http_request = urllib.request.Request(base_url + request.path, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(http_request, timeout=120) as response:
            response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0
    return DemoResult(request, status, time.perf_counter() - started)


def run_workload(base_url: str, requests: Sequence[DemoRequest], concurrency: int = 4) -> list[DemoResult]:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(lambda request: _send(base_url, request), requests))
