"""The Anthropic part of the span contract: names, finish reasons and token arithmetic.

Both sides use it: the instrumentor when it writes a span from the SDK's usage, the sink when it translates a
peer's span or prices one that carries tokens but no cost. Anthropic reports `usage.input_tokens` without the
cache; the GenAI conventions count the cache in, so `gen_ai.usage.input_tokens` = input + cache read + cache write.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from tokentrail.contract import semconv
from tokentrail.contract.shapes import reader

__all__ = [
    "BATCH_ID",
    "BATCH_REQUEST_COUNT",
    "CACHE_WRITE_1H",
    "CACHE_WRITE_5M",
    "CLIENT_PLATFORM",
    "INSTRUMENTATION_SCOPE",
    "PROVIDER",
    "REQUEST_ID",
    "SDK_NATIVE_SCOPE",
    "SERVICE_TIER",
    "SPEED",
    "STOP_REASON",
    "STOP_REASON_TO_FINISH",
    "THINKING_BUDGET",
    "THREAD_PREVIOUS_MESSAGE_ID",
    "THREAD_TYPE",
    "Usage",
    "WEB_FETCH_REQUESTS",
    "WEB_SEARCH_REQUESTS",
    "finish_reason",
    "read_usage",
    "usage_attributes",
    "total_input",
    "uncached_input",
]

PROVIDER: Final = "anthropic"
INSTRUMENTATION_SCOPE: Final = "tokentrail.instrumentation.anthropic"
"""The scope of tokentrail's own Anthropic spans."""
SDK_NATIVE_SCOPE: Final = "com.anthropic.sdk.python"
"""The scope of the spans the Anthropic SDK (1.14+) emits itself."""

CACHE_WRITE_5M: Final = "anthropic.usage.cache_creation.ephemeral_5m_input_tokens"
CACHE_WRITE_1H: Final = "anthropic.usage.cache_creation.ephemeral_1h_input_tokens"
SERVICE_TIER: Final = "anthropic.response.service_tier"
SPEED: Final = "anthropic.response.speed"
"""`standard` or `fast` (fast mode, priced apart where the price data has fast-mode prices)."""
WEB_SEARCH_REQUESTS: Final = "anthropic.usage.server_tool_use.web_search_requests"
WEB_FETCH_REQUESTS: Final = "anthropic.usage.server_tool_use.web_fetch_requests"
REQUEST_ID: Final = "anthropic.request.id"
BATCH_ID: Final = "anthropic.batch.id"
BATCH_REQUEST_COUNT: Final = "anthropic.batch.request_count"
STOP_REASON: Final = "anthropic.message.stop_reason"
THINKING_BUDGET: Final = "anthropic.thinking.budget_tokens"
CLIENT_PLATFORM: Final = "anthropic.client.platform"
"""`anthropic`, `bedrock`, `vertex` or `foundry`: which client class made the call."""
THREAD_TYPE: Final = "anthropic.thread.type"
"""`create` or `continue`: the request's `thread` (message threads, beta). A `continue` sends only the new
messages; the server holds the rest of the conversation."""
THREAD_PREVIOUS_MESSAGE_ID: Final = "anthropic.thread.previous_message_id"
"""The response a `continue` resumes from: the `gen_ai.response.id` of the thread's previous turn."""

STOP_REASON_TO_FINISH: Final[dict[str, str]] = {
    "end_turn": semconv.FINISH_STOP,
    "stop_sequence": semconv.FINISH_STOP,
    "pause_turn": semconv.FINISH_STOP,
    "max_tokens": semconv.FINISH_LENGTH,
    "model_context_window_exceeded": semconv.FINISH_LENGTH,
    "tool_use": semconv.FINISH_TOOL_CALL,
    "refusal": semconv.FINISH_CONTENT_FILTER,
}


def finish_reason(stop_reason: str) -> str:
    """An Anthropic `stop_reason` as a semconv finish reason; a value that already is one is kept as it is."""
    return STOP_REASON_TO_FINISH.get(stop_reason, stop_reason)


class Usage(NamedTuple):
    """An Anthropic `usage` object as the API reports it; `None` where it does not say."""

    input_tokens: int | None = None
    """Uncached input (Anthropic's `usage.input_tokens`)."""
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_5m_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    reasoning_tokens: int | None = None
    service_tier: str | None = None
    web_search_requests: int | None = None
    """Server tool use (`usage.server_tool_use`): billed per request on top of the tokens."""
    web_fetch_requests: int | None = None
    speed: str | None = None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _cache_writes(get: Any) -> tuple[int | None, int | None]:
    """(5-minute, 1-hour) cache writes of a usage or an iteration: a total without a full breakdown is 5-minute."""
    total = get("cache_creation_input_tokens")
    if type(total) is not int:
        total = None
    breakdown = get("cache_creation")
    w5 = w1 = None
    if breakdown is not None:
        read = reader(breakdown)
        w5 = read("ephemeral_5m_input_tokens")
        if type(w5) is not int:
            w5 = None
        w1 = read("ephemeral_1h_input_tokens")
        if type(w1) is not int:
            w1 = None
    if w5 is not None or w1 is not None:
        w5, w1 = w5 or 0, w1 or 0
        if total is not None and total > w5 + w1:
            w5 = total - w1
    elif total is not None:
        w5 = total
    return w5, w1


def _plus(count: int | None, extra: int) -> int | None:
    """`count` with `extra` added; a count the usage does not give stays unknown (a stream's later event, merged
    over an earlier one, must not replace it with the compaction part alone)."""
    return count if count is None else count + extra


def _compactions(iterations: Any) -> tuple[int, int, int, int, int]:
    """(input, output, cache read, 5m and 1h cache writes) of the `compaction` entries of `usage.iterations`: the
    summarising step is billed but left out of the top-level counts (the `message` entries are in them)."""
    sums = [0, 0, 0, 0, 0]
    if not isinstance(iterations, list | tuple):
        return 0, 0, 0, 0, 0
    for item in iterations:
        get = reader(item)
        if get("type") != "compaction":
            continue
        w5, w1 = _cache_writes(get)
        counts = (get("input_tokens"), get("output_tokens"), get("cache_read_input_tokens"), w5, w1)
        for index, value in enumerate(counts):
            sums[index] += _int(value) or 0
    return sums[0], sums[1], sums[2], sums[3], sums[4]


def read_usage(usage: Any) -> Usage | None:
    """The counts of an Anthropic `usage` (an SDK model or its dict form); `None` for no usage.

    A cache-write total without a full TTL breakdown is priced as the default 5-minute write. Compaction
    iterations (`usage.iterations`, beta) are added to the counts once: the top-level ones leave them out.
    """
    if usage is None:
        return None
    get = reader(usage)
    w5, w1 = _cache_writes(get)
    value = get("input_tokens")
    uncached = value if type(value) is int else None
    value = get("output_tokens")
    output = value if type(value) is int else None
    value = get("cache_read_input_tokens")
    cache_read = value if type(value) is int else None
    iterations = get("iterations")
    if iterations:  # compaction steps are rare: the common usage skips their arithmetic
        c_input, c_output, c_read, c_w5, c_w1 = _compactions(iterations)
        if w1 is None and w5 is not None and c_w1:
            w1 = 0  # a top-level total without breakdown: its writes are 5-minute ones, the compaction's 1-hour stay
        uncached, output, cache_read = _plus(uncached, c_input), _plus(output, c_output), _plus(cache_read, c_read)
        w5, w1 = _plus(w5, c_w5), _plus(w1, c_w1)
    reasoning = None
    details = get("output_tokens_details")
    if details is not None:
        read = reader(details)
        reasoning = _int(read("thinking_tokens"))
        if reasoning is None:
            reasoning = _int(read("reasoning_tokens"))
    tier = get("service_tier")
    speed = get("speed")
    searches = fetches = None
    server_tools = get("server_tool_use")
    if server_tools is not None:
        read = reader(server_tools)
        searches = _int(read("web_search_requests"))
        fetches = _int(read("web_fetch_requests"))
    return _tuple_new(  # type: ignore[no-any-return]
        Usage,
        (
            uncached,
            output,
            cache_read,
            w5,
            w1,
            reasoning,
            tier if type(tier) is str else None,
            searches,
            fetches,
            speed if type(speed) is str else None,
        ),
    )


_tuple_new: Any = tuple.__new__
"""`_tuple_new(Usage, fields)`: a `Usage` from its ten fields in order, what `Usage._make` does without its Python
frame and length check."""


def usage_attributes(usage: Usage, out: dict[str, Any]) -> None:
    """Write the contract's attributes for an Anthropic usage into `out`: the tokens (the one usage → tokens rule,
    `total_input`), the TTL breakdown of cache writes, server tool requests, the service tier and speed."""
    uncached, output, cache_read, write_5m, write_1h, reasoning, tier, searches, fetches, speed = usage
    written = (write_5m or 0) + (write_1h or 0)
    if uncached is not None:
        out[semconv.GEN_AI_USAGE_INPUT_TOKENS] = total_input(uncached, cache_read or 0, written)
    if output is not None:
        out[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = output
    if cache_read is not None:
        out[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
    if write_5m is not None or write_1h is not None:
        out[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = written
        if written:  # the TTL breakdown only when something was written
            out[CACHE_WRITE_5M] = write_5m or 0
            out[CACHE_WRITE_1H] = write_1h or 0
    if reasoning is not None:
        out[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    if tier:
        out[SERVICE_TIER] = tier
    if searches:
        out[WEB_SEARCH_REQUESTS] = searches
    if fetches:
        out[WEB_FETCH_REQUESTS] = fetches
    if speed:
        out[SPEED] = speed


def total_input(uncached: int, cache_read: int, cache_write: int) -> int:
    """The contract's rule: `gen_ai.usage.input_tokens` from Anthropic's uncached input and the cache tokens."""
    return uncached + cache_read + cache_write


def uncached_input(total_input: int, cache_read: int, cache_write: int) -> int:
    """The reverse of the contract's rule: Anthropic's uncached input from `gen_ai.usage.input_tokens`."""
    return max(total_input - cache_read - cache_write, 0)
