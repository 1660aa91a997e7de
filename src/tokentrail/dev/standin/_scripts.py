"""Scripted outcomes for the stand-in server: what the next request gets instead of the default reply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ContentBlock",
    "Delay",
    "ErrorReply",
    "MessageReply",
    "RedactedThinkingBlock",
    "Script",
    "StreamCut",
    "StreamError",
    "TextBlock",
    "ThinkingBlock",
    "ToolUseBlock",
    "Usage",
    "ERROR_TYPES",
]

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
"""The Anthropic error `type` the API sends with each HTTP status."""

_ERROR_MESSAGES: dict[str, str] = {
    "invalid_request_error": "Invalid request.",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found.",
    "timeout_error": "Request timed out.",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit.",
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
}


def default_error_message(error_type: str) -> str:
    """The message the real API sends with `error_type` (or a generic one)."""
    return _ERROR_MESSAGES.get(error_type, error_type.replace("_", " ").capitalize())


@dataclass(frozen=True)
class TextBlock:
    text: str
    citations: Sequence[Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class ThinkingBlock:
    thinking: str
    signature: str = "c3RhbmRpbi1zaWduYXR1cmU="


@dataclass(frozen=True)
class RedactedThinkingBlock:
    data: str


@dataclass(frozen=True)
class ToolUseBlock:
    name: str
    input: Mapping[str, Any]
    id: str | None = None
    """`toolu_…` id; generated when not given."""


ContentBlock = TextBlock | ThinkingBlock | RedactedThinkingBlock | ToolUseBlock | Mapping[str, Any]
"""A typed block, or any other block as the raw JSON object the API would send (server tool use, …)."""


@dataclass(frozen=True)
class Usage:
    """Token usage of a reply. `None` means "estimate it from the request / reply" (the default behaviour)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    ephemeral_5m_input_tokens: int | None = None
    """Defaults to whatever part of `cache_creation_input_tokens` is not `ephemeral_1h_input_tokens`."""
    ephemeral_1h_input_tokens: int = 0
    service_tier: str | None = "standard"
    server_tool_use: Mapping[str, int] | None = None
    """e.g. `{"web_search_requests": 2, "web_fetch_requests": 1}`; absent when `None`."""
    speed: str | None = None
    """`standard` or `fast`; absent when `None` (message_start and JSON only, as the API sends it)."""
    iterations: Sequence[Mapping[str, Any]] | None = None
    """`usage.iterations` entries as sent (`{"type": "compaction", "input_tokens": ..., ...}`); absent when `None`."""


@dataclass(frozen=True)
class MessageReply:
    """A message, sent as JSON or as an SSE stream depending on the request.

    Every field left at `None` is derived from the request as the default reply would be.
    """

    content: Sequence[ContentBlock] | None = None
    model: str | None = None
    stop_reason: str | None = None
    """Defaults to `tool_use` when the content has a tool_use block, else `end_turn`."""
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)
    id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delta_chars: int | None = None
    """Size of the text pieces a stream sends per delta (default: a few words each)."""
    event_interval_s: float = 0.0
    """Pause between streamed events (makes time-to-first-chunk visible; 0 for tests)."""


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error with the Anthropic error envelope.

    `retry_after_ms` is sent as `retry-after-ms` (the SDK prefers it over `retry-after`), so retrying clients in
    tests do not wait; set it to `None` to send only the realistic `retry-after` header.
    """

    status: int = 529
    error_type: str | None = None
    """Defaults to the type the API uses for `status` (429 -> rate_limit_error, 529 -> overloaded_error, …)."""
    message: str | None = None
    retry_after: int | None = None
    """Seconds for `retry-after`; defaults to 1 for 429 and 529 and is absent otherwise."""
    retry_after_ms: float | None = 1.0
    should_retry: bool | None = None
    """Sends `x-should-retry: true|false` when set."""
    headers: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] | None = None
    """`error.details` of the envelope (e.g. `{"error_code": "thread_not_found"}`); absent when `None`."""

    @property
    def type(self) -> str:
        return self.error_type or ERROR_TYPES.get(self.status, "api_error")

    @property
    def text(self) -> str:
        return self.message or default_error_message(self.type)

    @classmethod
    def rate_limit(cls, **kwargs: Any) -> ErrorReply:
        return cls(status=429, **kwargs)

    @classmethod
    def overloaded(cls, **kwargs: Any) -> ErrorReply:
        return cls(status=529, **kwargs)

    @classmethod
    def invalid_request(cls, message: str = "Invalid request.", **kwargs: Any) -> ErrorReply:
        return cls(status=400, message=message, **kwargs)

    @classmethod
    def authentication(cls, **kwargs: Any) -> ErrorReply:
        return cls(status=401, **kwargs)

    @classmethod
    def api_error(cls, **kwargs: Any) -> ErrorReply:
        return cls(status=500, **kwargs)


@dataclass(frozen=True)
class StreamCut:
    """The connection drops after `after_events` events of the stream (a JSON reply is cut halfway)."""

    after_events: int = 3
    reply: MessageReply = field(default_factory=MessageReply)


@dataclass(frozen=True)
class StreamError:
    """After `after_events` events the stream sends `event: error` and ends.

    A non-streaming request gets the same error as an HTTP error (529 for overloaded_error).
    """

    after_events: int = 3
    error_type: str = "overloaded_error"
    message: str | None = None
    reply: MessageReply = field(default_factory=MessageReply)

    @property
    def text(self) -> str:
        return self.message or default_error_message(self.error_type)


@dataclass(frozen=True)
class Delay:
    """Wait `seconds` before answering with `then` (default: the default reply)."""

    seconds: float
    then: MessageReply | ErrorReply | StreamCut | StreamError | None = None


Script = MessageReply | ErrorReply | StreamCut | StreamError | Delay
