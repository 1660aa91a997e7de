"""The read side's facts of a call beyond tokens: its tool calls and its HTTP attempts, from any source.

tokentrail's spans say them outright (`tokentrail.tool_calls.names` / `.ids`, `tokentrail.request.attempts`).
Spans that do not (peers, older tokentrail versions) give them where it is cheap: tool calls from the output
messages when those were captured, attempts from the `tokentrail.retry` events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from tokentrail.contract import coerce, semconv
from tokentrail.sink.values import as_strings

__all__ = ["ATTEMPTS_MAX", "ToolCalls", "attempts", "tool_calls"]

ATTEMPTS_MAX: Final = 1000
"""More HTTP attempts than this for one call is not a real value (the SDK's default is 3)."""

_TOOL_PARTS: Final = frozenset({"tool_call", "server_tool_call"})


class ToolCalls(NamedTuple):
    names: list[str] | None
    ids: list[str] | None


def _from_output(value: Any) -> ToolCalls:
    """The tool-call parts of semconv output messages (JSON text or decoded), in order."""
    if isinstance(value, str) and '"tool_call' not in value and '"server_tool_call' not in value:
        return ToolCalls(None, None)  # the common case: no tool call, no decoding
    decoded = coerce.json_value(value)
    names: list[str] = []
    ids: list[str] = []
    for message in decoded if isinstance(decoded, Sequence) and not isinstance(decoded, str) else ():
        message_parts = message.get("parts") if isinstance(message, Mapping) else None
        for part in message_parts if isinstance(message_parts, Sequence) else ():
            if isinstance(part, Mapping) and part.get("type") in _TOOL_PARTS:
                names.append(coerce.text(part.get("name")) or "")
                ids.append(coerce.text(part.get("id")) or "")
    return ToolCalls(as_strings(names), as_strings(ids)) if names else ToolCalls(None, None)


def tool_calls(attrs: Mapping[str, Any]) -> ToolCalls:
    """The tools the response asked to call (names and ids, index for index), or `(None, None)`."""
    names = as_strings(attrs.get(semconv.TOOL_CALL_NAMES))
    if names is not None:
        return ToolCalls(names, as_strings(attrs.get(semconv.TOOL_CALL_IDS)))
    output = attrs.get(semconv.GEN_AI_OUTPUT_MESSAGES)
    return _from_output(output) if output is not None else ToolCalls(None, None)


def attempts(attrs: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> int | None:
    """HTTP attempts of the call: the attribute, else one more than its retry events; None when neither says."""
    found = coerce.number(attrs.get(semconv.REQUEST_ATTEMPTS))
    if isinstance(found, int) and 1 <= found <= ATTEMPTS_MAX:
        return found
    retries = sum(1 for event in events if event.get("name") == semconv.RETRY_EVENT)
    return min(retries + 1, ATTEMPTS_MAX) if retries else None
