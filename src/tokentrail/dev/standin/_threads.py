"""Message threads (beta `message-threads-2026-08-12`): conversations the server holds between turns.

A request with `thread: {"type": "create"}` sends the whole history; the server keeps it, with the reply, under
the reply's `id`. `{"type": "continue", "previous_message_id": ID}` sends only the new messages: the model answers
the held history followed by them (and its input tokens count all of it), and the new reply's `id` holds the longer
conversation. Each reply can be continued once. The errors are the API's: `thread_not_found` (404) for an unknown
id, `thread_already_continued` (400), and 400 for a `continue` that repeats `system` or `tools` (taken from the
thread) or a `thread` without the beta.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["THREADS_BETA", "ThreadRejected", "ThreadStore"]

THREADS_BETA = "message-threads-2026-08-12"
_CREATE_ONLY = ("system", "tools")


class ThreadRejected(Exception):
    """The API's answer to a thread it cannot continue: status, error type, message, `error.details`."""

    def __init__(self, status: int, error_type: str, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.details = {"error_code": error_code} if error_code is not None else None


@dataclass
class _Held:
    fields: dict[str, Any]
    """`system` and `tools` as the creating turn sent them."""
    messages: list[Any]
    """The conversation up to and including the reply that names it."""
    continued: bool = False


class ThreadStore:
    """Held conversations by reply id (the newest `capacity`), safe across handler threads."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._held.clear()

    def resolve(self, params: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        """The request the model answers: `params` themselves, or for a `continue` the held conversation with the
        new messages. Raises `ThreadRejected` as the API would."""
        thread = params.get("thread")
        if thread is None:
            return dict(params)
        if THREADS_BETA not in headers.get("anthropic-beta", ""):
            raise ThreadRejected(400, "invalid_request_error", f"thread: requires the {THREADS_BETA} beta")
        kind = thread.get("type") if isinstance(thread, Mapping) else None
        if kind == "create":
            return dict(params)
        if kind != "continue" or not isinstance(thread.get("previous_message_id"), str):
            raise ThreadRejected(400, "invalid_request_error", "thread: Input should be a valid thread object")
        repeated = [name for name in _CREATE_ONLY if name in params]
        if repeated:
            raise ThreadRejected(
                400, "invalid_request_error", f"{repeated[0]}: cannot be set on a thread continue (the thread has it)"
            )
        previous = thread["previous_message_id"]
        with self._lock:
            held = self._held.get(previous)
            if held is None:
                raise ThreadRejected(
                    404, "not_found_error", f"No thread state found for {previous}", "thread_not_found"
                )
            if held.continued:
                raise ThreadRejected(
                    400, "invalid_request_error", f"{previous} has already been continued", "thread_already_continued"
                )
            held.continued = True
            fields, history = dict(held.fields), list(held.messages)
        return {**params, **fields, "messages": [*history, *params.get("messages", [])]}

    def hold(self, answered: Mapping[str, Any], message: Mapping[str, Any]) -> None:
        """Keep the conversation of a threaded request (`answered` as `resolve` gave it) with its reply."""
        if answered.get("thread") is None:
            return
        reply = {"role": "assistant", "content": message["content"]}
        held = _Held(
            {name: answered[name] for name in _CREATE_ONLY if name in answered},
            [*answered.get("messages", []), reply],
        )
        with self._lock:
            self._held[str(message["id"])] = held
            if len(self._held) > self._capacity:
                self._held.popitem(last=False)
