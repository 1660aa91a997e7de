"""One span per call on SDKs that trace their own calls (1.14+: `anthropic._base_client.start_api_call_span`).

While a tokentrail call's SDK work runs (`recording.ACTIVE_CALL_KEY` is in the context), the SDK's call span
is replaced by a non-recording span that carries the tokentrail span's context. The SDK then goes on exactly
as it would with its own span: it makes that context current around its requests (HTTP client spans nest
under the tokentrail span) and, when the client's `propagation` option is on, sends the tokentrail span's
trace context to the server. Nothing of it is exported, and the SDK skips its own recording for a span that
does not record. Calls tokentrail does not record (other endpoints, tool runners, sessions) keep the SDK's span.

Detected by feature: the hook is installed only where the SDK module has `start_api_call_span`.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.trace import NonRecordingSpan

from tokentrail.recording import active_span

__all__ = ["HOOK_MODULE", "HOOK_NAME", "take_place_of_sdk_span"]

log = logging.getLogger(__name__)

HOOK_MODULE = "anthropic._base_client"
HOOK_NAME = "start_api_call_span"


def take_place_of_sdk_span(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """wrapt wrapper of `start_api_call_span`: our span's context instead of a new SDK span inside our calls."""
    try:
        span = active_span()
        context = span.get_span_context() if span is not None else None
    except Exception:  # never let the hook break the SDK's request path
        log.debug("tokentrail: could not read the active call's span", exc_info=True)
        context = None
    if context is None or not context.is_valid:
        # Not inside a tokentrail call, or our tracer records nothing (no-op provider): the SDK's own behaviour.
        return wrapped(*args, **kwargs)
    return NonRecordingSpan(context)
