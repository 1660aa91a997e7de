"""Anthropic results as the recorder's neutral `Response`: messages, token counts, and their usage.

`response_of` is the one mapping from what an Anthropic result says (id, model, `stop_reason`, `usage`) onto the
span contract: the finish reason (`contract.anthropic.finish_reason`), the token attributes
(`contract.anthropic.usage_attributes`, the one place of the cache arithmetic), the `anthropic.*` attributes,
the tool calls (names and ids, whatever the content policy) and the `Usage` to price.
"""

from __future__ import annotations

from typing import Any, TypeVar

from opentelemetry.util.types import AttributeValue

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.contract.shapes import field, reader
from tokentrail.instrumentation.recorder.records import Response
from tokentrail.pricing import Usage
from tokentrail.pricing.usage import new_usage

__all__ = [
    "TOOL_CALL_BLOCKS",
    "count_tokens_response",
    "merge_usage",
    "message_response",
    "priced_usage",
    "response_of",
    "tool_calls",
]

_read_usage = anthropic_contract.read_usage
_usage_attributes = anthropic_contract.usage_attributes
_FINISH = anthropic_contract.STOP_REASON_TO_FINISH
_STOP_REASON = anthropic_contract.STOP_REASON
_REQUEST_ID = anthropic_contract.REQUEST_ID
_TOOL_CALL_NAMES = semconv.TOOL_CALL_NAMES
_TOOL_CALL_IDS = semconv.TOOL_CALL_IDS
TOOL_CALL_BLOCKS: frozenset[str] = frozenset(("tool_use", "server_tool_use"))
"""Content block types that are tool calls (client tools, and server tools such as `web_search`)."""
_TOOL_CALL_BLOCKS = TOOL_CALL_BLOCKS
_T = TypeVar("_T")


def priced_usage(usage: anthropic_contract.Usage) -> Usage | None:
    """The counts of `usage` to price; `None` when it has neither an input nor an output count."""
    uncached, output, cache_read, write_5m, write_1h, _, _, searches, _, speed = usage  # one unpack, no field reads
    if uncached is None and output is None:
        return None
    return new_usage(  # input, output, cache read, 5-minute and 1-hour cache writes, web searches, fast
        (uncached or 0, output or 0, cache_read or 0, write_5m or 0, write_1h or 0, searches or 0, speed == "fast")
    )


def response_of(
    response_id: str | None,
    model: str | None,
    stop_reason: str | None,
    usage: anthropic_contract.Usage | None,
    *,
    message: Any = None,
    attributes: dict[str, AttributeValue] | None = None,
) -> Response:
    """The neutral `Response` of an Anthropic result (`attributes`: extra ones, owned from now on)."""
    out: dict[str, AttributeValue] = {} if attributes is None else attributes
    finish = None
    if stop_reason:
        out[_STOP_REASON] = stop_reason
        finish = _FINISH.get(stop_reason, stop_reason)  # `finish_reason`, inlined
    priced = None
    if usage is not None:
        _usage_attributes(usage, out)
        priced = priced_usage(usage)
    return Response(response_id, model, finish, out, priced, None, message)


def merge_usage(
    earlier: anthropic_contract.Usage | None, later: anthropic_contract.Usage | None
) -> anthropic_contract.Usage | None:
    """`later`'s counts over `earlier`'s: a stream's usage is cumulative, so a count replaces, never adds; a count
    `later` does not give is kept."""
    if earlier is None:
        return later
    if later is None:
        return earlier
    write_5m, write_1h = later.cache_write_5m_tokens, later.cache_write_1h_tokens
    earlier_1h = earlier.cache_write_1h_tokens
    if write_5m is not None and earlier_1h and (write_1h or 0) < earlier_1h:
        # A cache-write total without its TTL breakdown (a stream's message_delta) reads as 5-minute writes, plus
        # the 1-hour writes of any compaction iteration: a cumulative 1-hour count never drops, so the earlier
        # breakdown's stands and the rest of the total is the 5-minute part; no token is counted twice.
        write_5m = max(write_5m + (write_1h or 0) - earlier_1h, 0)
        write_1h = earlier_1h
    return anthropic_contract.Usage(
        _later(later.input_tokens, earlier.input_tokens),
        _later(later.output_tokens, earlier.output_tokens),
        _later(later.cache_read_tokens, earlier.cache_read_tokens),
        _later(write_5m, earlier.cache_write_5m_tokens),
        _later(write_1h, earlier.cache_write_1h_tokens),
        _later(later.reasoning_tokens, earlier.reasoning_tokens),
        _later(later.service_tier, earlier.service_tier),
        _later(later.web_search_requests, earlier.web_search_requests),
        _later(later.web_fetch_requests, earlier.web_fetch_requests),
        _later(later.speed, earlier.speed),
    )


def _later(later: _T, earlier: _T) -> _T:
    return earlier if later is None else later


def message_response(message: Any) -> Response | None:
    """A final `Message` (or `ParsedMessage`, or its dict form); `None` when `message` has no message shape."""
    get = reader(message)
    usage = get("usage")
    message_id = get("id")
    if usage is None and message_id is None:
        return None
    model = get("model")
    stop_reason = get("stop_reason")
    request_id = _request_id(message)
    attributes: dict[str, AttributeValue] = {_REQUEST_ID: request_id} if type(request_id) is str else {}
    content = get("content")
    if content:
        names: list[str] | None = None
        ids: list[str] = []
        for block in content:
            # `field(block, "type")`, inlined for the usual blocks (SDK objects, dicts): one call less per block
            if type(block) is dict:
                kind = block.get("type")
            else:
                try:
                    kind = block.type
                except AttributeError:
                    kind = field(block, "type")
            if kind in _TOOL_CALL_BLOCKS:
                if names is None:
                    names = []
                name, block_id = field(block, "name"), field(block, "id")
                names.append(name if type(name) is str else "")
                ids.append(block_id if type(block_id) is str else "")
        if names is not None:
            tool_calls(names, ids, attributes)
    return response_of(
        message_id if type(message_id) is str else None,
        model if type(model) is str else None,
        stop_reason if type(stop_reason) is str else None,
        _read_usage(usage),
        message=message,
        attributes=attributes,
    )


def tool_calls(names: list[str], ids: list[str], out: dict[str, AttributeValue]) -> None:
    """The tool calls a response asked for (names and ids index for index) into `out`; nothing when none."""
    if names:
        out[_TOOL_CALL_NAMES] = tuple(names)
        out[_TOOL_CALL_IDS] = tuple(ids)


def _request_id(message: Any) -> Any:
    """The SDK's `_request_id` of a response object, read from the instance's stores: a miss through `getattr`
    goes through pydantic's `__getattr__` and a caught AttributeError, which costs more than all the rest."""
    try:
        private = message.__pydantic_private__  # pydantic 2 keeps it there; pydantic 1 in `__dict__`
    except AttributeError:
        private = None
    if type(private) is dict:
        return private.get("_request_id")
    stored = getattr(message, "__dict__", None)
    return stored.get("_request_id") if type(stored) is dict else None


def count_tokens_response(result: Any) -> Response | None:
    """A `MessageTokensCount`: its input tokens."""
    tokens = field(result, "input_tokens")
    if type(tokens) is not int:
        return None
    return response_of(None, None, None, anthropic_contract.Usage(input_tokens=tokens))
