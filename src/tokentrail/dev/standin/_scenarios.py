"""Out-of-process control: the `x-standin-scenario` and `x-standin-latency-ms` request headers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from tokentrail.dev.standin._http import Abort
from tokentrail.dev.standin._scripts import ErrorReply

__all__ = ["LATENCY_HEADER", "SCENARIOS", "SCENARIO_HEADER", "extra_latency_s", "scenario_error", "scenarios_of"]

SCENARIO_HEADER = "x-standin-scenario"
LATENCY_HEADER = "x-standin-latency-ms"
SCENARIOS = frozenset(
    {
        "overloaded",
        "rate_limit",
        "rate_limit_once",
        "server_error",
        "invalid_request",
        "authentication",
        "stream_error",
        "stream_cut",
        "tool_use",
        "thinking",
        "cache",
        "max_tokens",
    }
)


def scenarios_of(headers: Mapping[str, str]) -> frozenset[str]:
    """The scenario names a request asks for (400 for an unknown one)."""
    raw = headers.get(SCENARIO_HEADER)
    if not raw:
        return frozenset()
    names = frozenset(name for name in re.split(r"[,\s]+", raw.strip().lower()) if name)
    unknown = names - SCENARIOS
    if unknown:
        raise Abort(400, f"{SCENARIO_HEADER}: unknown scenario(s) {', '.join(sorted(unknown))}")
    return names


def extra_latency_s(headers: Mapping[str, str]) -> float:
    """The seconds `x-standin-latency-ms` adds to this response (400 if it is not a number)."""
    latency_ms = headers.get(LATENCY_HEADER)
    if not latency_ms:
        return 0.0
    try:
        return max(0.0, float(latency_ms)) / 1000
    except ValueError:
        raise Abort(400, f"{LATENCY_HEADER}: {latency_ms!r} is not a number") from None


def scenario_error(
    scenarios: frozenset[str],
    headers: Mapping[str, str],
    body: Any,
    path: str,
    first_failure: Callable[[str], bool],
) -> ErrorReply | None:
    """The error an error scenario answers with, or None. `rate_limit_once` fails the first attempt only: per
    `x-stainless-retry-count`, else per `idempotency-key`, else per identical body (`first_failure` remembers)."""
    if "overloaded" in scenarios:
        return ErrorReply(529)
    if "rate_limit" in scenarios:
        return ErrorReply(429)
    if "server_error" in scenarios:
        return ErrorReply(500)
    if "invalid_request" in scenarios:
        return ErrorReply(400, message="messages: scripted invalid request (x-standin-scenario)")
    if "authentication" in scenarios:
        return ErrorReply(401)
    if "rate_limit_once" in scenarios:
        retry_count = headers.get("x-stainless-retry-count")
        if retry_count is not None:
            first = retry_count == "0"
        else:
            key = headers.get("idempotency-key") or json.dumps(body, sort_keys=True)
            first = first_failure(f"{path}\n{key}")
        if first:
            return ErrorReply(429)
    return None
