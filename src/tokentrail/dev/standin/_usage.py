"""Token counts: the input size estimate, prompt-cache bookkeeping, and the `usage` object of a reply."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tokentrail.dev.standin._scripts import Usage

__all__ = ["CHARS_PER_TOKEN", "CacheTracker", "estimate_input_tokens", "estimate_tokens", "output_chars", "usage_json"]

CHARS_PER_TOKEN = 4
"""The estimate's ratio; count_tokens and the default replies agree with it."""


def estimate_tokens(chars: int) -> int:
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _prompt_elements(body: Mapping[str, Any]) -> list[Any]:
    """The parts of a request that count as input, in the order the API caches them: tools, system, messages."""
    elements: list[Any] = []
    tools = body.get("tools")
    if isinstance(tools, list):
        elements.extend(tools)
    system = body.get("system")
    if isinstance(system, list):
        elements.extend(system)
    elif system:
        elements.append(system)
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, Mapping) else None
            if isinstance(content, list):
                elements.extend(content)
            else:
                elements.append(message)
    return elements


def estimate_input_tokens(body: Mapping[str, Any]) -> int:
    """Input tokens of a request, estimated from its size (4 characters a token); count_tokens agrees with it."""
    return estimate_tokens(len(_dumps(_prompt_elements(body))))


class CacheTracker:
    """Remembers which prompt prefixes (up to the last `cache_control` breakpoint) were written to the cache."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def hit(self, key: str) -> bool:
        """True if `key` was cached before; records it either way."""
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return True
            self._seen[key] = None
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return False


def _cache_split(body: Mapping[str, Any], total: int, forced: bool, cache: CacheTracker) -> tuple[int, int, int]:
    """(cache_read, cache_write_5m, cache_write_1h) for a request whose whole input is `total` tokens."""
    if forced:
        return total * 6 // 10, total * 3 // 10, 0
    elements = _prompt_elements(body)
    last = -1
    for index, element in enumerate(elements):
        if isinstance(element, Mapping) and isinstance(element.get("cache_control"), Mapping):
            last = index
    if last < 0:
        return 0, 0, 0
    prefix = _dumps(elements[: last + 1])
    tokens = min(total, estimate_tokens(len(prefix)))
    key = hashlib.sha256(f"{body.get('model')}\n{prefix}".encode()).hexdigest()
    if cache.hit(key):
        return tokens, 0, 0
    if elements[last]["cache_control"].get("ttl") == "1h":
        return 0, 0, tokens
    return 0, tokens, 0


def output_chars(blocks: Iterable[Mapping[str, Any]]) -> int:
    chars = 0
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            chars += len(block.get("text", ""))
        elif kind == "thinking":
            chars += len(block.get("thinking", ""))
        elif kind == "tool_use":
            chars += len(block.get("name", "")) + len(_dumps(block.get("input", {})))
        else:
            chars += len(_dumps(block))
    return chars


def usage_json(
    body: Mapping[str, Any],
    given: Usage,
    blocks: Sequence[Mapping[str, Any]],
    scenarios: frozenset[str],
    cache: CacheTracker | None,
) -> dict[str, Any]:
    read, write_5m, write_1h = given.cache_read_input_tokens, 0, given.ephemeral_1h_input_tokens
    write_total = given.cache_creation_input_tokens
    if given.input_tokens is None:
        total = estimate_input_tokens(body)
        if not (read or write_total or write_1h):
            read, write_5m, write_1h = _cache_split(body, total, "cache" in scenarios, cache or CacheTracker())
            write_total = write_5m + write_1h
        input_tokens = max(0, total - read - write_total)
    else:
        input_tokens = given.input_tokens
    if given.ephemeral_5m_input_tokens is not None:
        write_5m = given.ephemeral_5m_input_tokens
    elif not write_5m:
        write_5m = max(0, write_total - write_1h)
    output = given.output_tokens if given.output_tokens is not None else estimate_tokens(output_chars(blocks))
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": write_total,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h},
        "output_tokens": output,
    }
    if given.server_tool_use is not None:
        usage["server_tool_use"] = dict(given.server_tool_use)
    if given.service_tier is not None:
        usage["service_tier"] = given.service_tier
    if given.speed is not None:
        usage["speed"] = given.speed
    if given.iterations is not None:
        usage["iterations"] = [dict(item) for item in given.iterations]
    return usage
