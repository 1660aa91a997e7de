"""A local stand-in for the Anthropic Messages API, for tests, the demo and benchmarks.

It speaks the real wire formats, so the real `anthropic` SDK (0.x, 1.x, 2.x) talks to it unchanged:

- `POST /v1/messages` (JSON, or SSE with `"stream": true`), `POST /v1/messages/count_tokens`,
  `/v1/messages/batches` (create, list, retrieve, cancel, delete, `…/results` as JSONL), `GET /v1/models`;
  beta paths (`?beta=true`, `anthropic-beta` headers) are accepted.
- Bedrock: `POST /model/{model}/invoke` and `/invoke-with-response-stream` (AWS event-stream framing).
- Vertex: `POST [/v1]/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:rawPredict` and
  `:streamRawPredict` (SSE), and `models/count-tokens:rawPredict`.
- Foundry: the first-party messages and count_tokens endpoints under `/anthropic/` (`api-key` header or a bearer
  token; no batches or models, as on Foundry).
- Message threads (beta): `thread: {"type": "create"}` holds the conversation under the reply's id, and
  `{"type": "continue", "previous_message_id": ...}` answers the held history followed by the new messages (its
  input tokens count all of it), with the API's `thread_not_found` / `thread_already_continued` errors.
- OpenAI-compatible: `POST /v1/chat/completions` (JSON, or SSE with `"stream": true`; echo replies, estimated
  usage), for the calls `tokentrail.llm_call` records by hand.
- Anything else: 404 with a `not_found_error` envelope. Every response carries a `request-id` header.
  First-party paths need an API key header and a valid `anthropic-version`, as the real API does.

Default reply (no script): deterministic content derived from the request. The text echoes the last user
message; input tokens are estimated from the request size (4 characters a token; count_tokens agrees);
a `thinking` block comes first when `thinking` is enabled; a `tool_use` block (with input built from the tool's
schema) when `tool_choice` forces a tool (`any`/`tool`) or the last user message names a tool or says "use a tool"
(never in answer to a tool result, so agent loops end); `max_tokens` and `stop_sequences` cut the text with the
matching stop reason. Prompt caching: a prefix up to the last `cache_control` breakpoint is a cache write the first
time it is seen (5m, or 1h with `"ttl": "1h"`) and a cache read afterwards.

In-process control: `StandinServer.enqueue(*scripts)` with `MessageReply`, `ErrorReply`, `StreamCut`, `StreamError`
and `Delay` (see `tokentrail.dev.standin._scripts`). Out-of-process control: the request header
`x-standin-scenario: NAME[,NAME…]` (unknown names get 400):

=================  ==================================================================================
`overloaded`       529 `overloaded_error` on every attempt
`rate_limit`       429 `rate_limit_error` on every attempt
`rate_limit_once`  429 on the first attempt, success on the retry (per `x-stainless-retry-count`, else per
                   `idempotency-key` header, else per identical body)
`server_error`     500 `api_error`
`invalid_request`  400 `invalid_request_error`
`authentication`   401 `authentication_error`
`stream_error`     streams send three events, then `event: error` (`overloaded_error`); Bedrock: an exception frame
`stream_cut`       streams send three events, then the connection drops
`tool_use`         the reply calls a tool (the request's first or named tool; a made-up `lookup` if none)
`thinking`         the reply starts with a thinking block
`cache`            usage reports 60% of the input as cache read and 30% as cache write (5m)
`max_tokens`       the reply stops early with `stop_reason: max_tokens`
=================  ==================================================================================

Errors carry `retry-after` (429/529) and `retry-after-ms: 1`, so retrying SDK clients do not wait. The header
`x-standin-latency-ms: N` adds N ms before the first byte of that response (the server-wide `latency_s` /
`--latency-ms` applies to every response).

Run it with `python -m tokentrail.dev.standin --host 127.0.0.1 --port 0 [--latency-ms N]`.
"""

from __future__ import annotations

from tokentrail.dev.standin._cli import main
from tokentrail.dev.standin._recording import RecordedRequest
from tokentrail.dev.standin._scenarios import LATENCY_HEADER, SCENARIO_HEADER
from tokentrail.dev.standin._scripts import (
    ContentBlock,
    Delay,
    ErrorReply,
    MessageReply,
    RedactedThinkingBlock,
    Script,
    StreamCut,
    StreamError,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from tokentrail.dev.standin._server import StandinServer

__all__ = [
    "LATENCY_HEADER",
    "SCENARIO_HEADER",
    "ContentBlock",
    "Delay",
    "ErrorReply",
    "MessageReply",
    "RecordedRequest",
    "RedactedThinkingBlock",
    "Script",
    "StandinServer",
    "StreamCut",
    "StreamError",
    "TextBlock",
    "ThinkingBlock",
    "ToolUseBlock",
    "Usage",
    "main",
]
