"""One span per call on SDKs that trace their own calls (1.14+: `anthropic._base_client.start_api_call_span`).

While a tokentrail call's SDK work runs (`recorder.call.ACTIVE_CALL_KEY` is in the context), the SDK gets no call
span of its own: the hook answers `None`, which the SDK treats as "this call has no span" and runs the call
untraced. Our span is already current around the SDK's work, so HTTP client spans nest under it. What the SDK
would have done with its span besides recording it, sending the trace context to the server when the client's
`propagation` option is on, tokentrail does instead: it adds the trace headers of its span (from the
application's propagator, `opentelemetry.propagate.inject`) to the request's options, in place of any there.

Clients that change each request after the SDK built it (`client.signs_requests`: AWS signatures, Google
credentials) keep the SDK's own propagation, which adds the headers after that step: for them the hook answers a
non-recording span that carries our span's context, so nothing of the SDK's span is exported but the SDK still
propagates our context. That path costs more (the SDK's tracing work runs around a span that records nothing),
which is why it is not the only one. Calls tokentrail does not record (other endpoints, tool runners, sessions)
keep the SDK's span.

Detected by feature: the hook is installed only where the SDK module has `start_api_call_span`. Any fault
falls back to the non-recording span.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import propagate, trace
from opentelemetry.trace import NonRecordingSpan

from tokentrail.instrumentation.recorder.call import ActiveCall, active_call

__all__ = ["HOOK_MODULE", "HOOK_NAME", "take_place_of_sdk_span"]

log = logging.getLogger(__name__)

HOOK_MODULE = "anthropic._base_client"
HOOK_NAME = "start_api_call_span"
_OPTIONS_POSITION = 2
"""`start_api_call_span(tracer, base_url, options, attributes, *, propagation, ...)`."""

_inject = propagate.inject


def take_place_of_sdk_span(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """wrapt wrapper of `start_api_call_span`: no SDK span inside our calls (see the module docstring)."""
    try:
        call = active_call()
        context = call.span.get_span_context() if call is not None else None
    except Exception:  # never let the hook break the SDK's request path
        log.debug("tokentrail: could not read the active call's span", exc_info=True)
        call = context = None
    if call is None or context is None or not context.is_valid:
        # Not inside a tokentrail call, or our tracer records nothing (no-op provider): the SDK's own behaviour.
        return wrapped(*args, **kwargs)
    if not call.request.signed:
        try:
            if kwargs.get("propagation", True):
                options = args[_OPTIONS_POSITION] if len(args) > _OPTIONS_POSITION else kwargs["options"]
                _add_trace_headers(call, options)
            return None
        except Exception:
            log.debug("tokentrail: could not add the trace headers; the SDK propagates them", exc_info=True)
    return NonRecordingSpan(context)


def _add_trace_headers(call: ActiveCall, options: Any) -> None:
    """Our span's trace headers into the request options (a copy the SDK made for this call), replacing any."""
    context = context_api.get_current()  # the call's context, which the wrapper attached (with the baggage)
    if trace.get_current_span(context) is not call.span:
        context = trace.set_span_in_context(call.span, context)
    carrier: dict[str, str] = {}
    _inject(carrier, context=context)
    if not carrier:
        return
    headers = options.headers
    options.headers = {**headers, **carrier} if isinstance(headers, Mapping) else carrier
