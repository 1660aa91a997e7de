"""A minimal OpenAI-compatible `POST /v1/chat/completions` (JSON, or SSE with `"stream": true`): enough for a
test of `tokentrail.llm_call` to make a real HTTP call that is not the Anthropic API's.

The reply echoes the last user message; usage is estimated as the Messages API's is (4 characters a token).
Streams end with a usage chunk when `stream_options.include_usage` is true, then `data: [DONE]`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from tokentrail.dev.standin._replies import new_id
from tokentrail.dev.standin._usage import estimate_input_tokens, estimate_tokens

__all__ = ["completion", "completion_frames", "validate"]


def validate(body: Any) -> str | None:
    """Why the request is invalid, or `None`."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "messages: Field required"
    return None


def _reply_text(body: Mapping[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
            return f"You said: {content}"
    return "Hello."


def _usage(body: Mapping[str, Any], text: str) -> dict[str, Any]:
    prompt = estimate_input_tokens({"messages": body["messages"]})
    completion_tokens = estimate_tokens(len(text))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def completion(body: Mapping[str, Any]) -> dict[str, Any]:
    """The non-streamed reply."""
    text = _reply_text(body)
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": _usage(body, text),
    }


def completion_frames(body: Mapping[str, Any]) -> list[bytes]:
    """The streamed reply as SSE frames: a role chunk, one chunk per word, the finish chunk, usage, `[DONE]`."""
    text = _reply_text(body)
    base = {"id": new_id("chatcmpl-"), "object": "chat.completion.chunk", "created": int(time.time())}
    base["model"] = body["model"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": word if i == 0 else " " + word}) for i, word in enumerate(text.split(" "))]
    chunks.append(chunk({}, "stop"))
    options = body.get("stream_options")
    if isinstance(options, Mapping) and options.get("include_usage"):
        chunks.append({**base, "choices": [], "usage": _usage(body, text)})
    frames = [f"data: {json.dumps(c, separators=(',', ':'))}\n\n".encode() for c in chunks]
    frames.append(b"data: [DONE]\n\n")
    return frames
