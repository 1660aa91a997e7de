"""The SDK's own retries on the call's span: a `tokentrail.retry` event per retried attempt, and the attempts.

Every SDK generation (0.41 to 2.x) decides a retry the same way, whatever its retry loop looks like (a recursive
`_retry_request` on 0.x, a `for` loop with `_sleep_for_retry` later): `BaseClient._should_retry(response)` says
whether an error response may be retried, and `BaseClient._calculate_retry_timeout(...)` is called once for
each attempt that will be retried, right before the wait, and returns that wait. The instrumentor wraps both on
`BaseClient` (its subclasses call up to it): the first notes the failed attempt's status on the running
tokentrail call (`recorder.call.active_call`), the second records the retry with its wait. Where the SDK has
`_should_retry_exception` (2.x: middleware and connection failures), it is wrapped too, for the error type of a
failure that has no response. Outside a tokentrail call the wrappers only pass through.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tokentrail.instrumentation.anthropic.errors import error_type
from tokentrail.instrumentation.recorder.call import active_call

__all__ = ["HOOK_CLASS", "HOOK_MODULE", "HOOKS", "noting_exception", "noting_response", "recording_retry"]

log = logging.getLogger(__name__)

HOOK_MODULE = "anthropic._base_client"
HOOK_CLASS = "BaseClient"

_STATUS_TYPES = {
    408: "timeout_error",
    409: "conflict_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
"""The API error type for a retryable status when the body has not been read (the API's documented types)."""


def _response_error_type(response: Any, status: int | None) -> str | None:
    """The envelope's `error.type` when the body is already read (no I/O here), else the status's type."""
    content = getattr(response, "__dict__", {}).get("_content")
    if isinstance(content, bytes) and content[:1] == b"{":
        try:
            body = json.loads(content)
            kind = body.get("error", {}).get("type") if isinstance(body, dict) else None
            if isinstance(kind, str) and kind:
                return kind
        except (ValueError, AttributeError):
            pass
    if status is None:
        return None
    return _STATUS_TYPES.get(status, str(status))


def noting_response(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """wrapt wrapper of `_should_retry(response)`: a retryable error response notes the failed attempt."""
    result = wrapped(*args, **kwargs)
    if result is True:
        try:
            call = active_call()
            if call is not None:
                response = args[0] if args else kwargs.get("response")
                status = getattr(response, "status_code", None)
                status = status if type(status) is int else None
                call.failed(_response_error_type(response, status), status)
        except Exception:
            log.debug("tokentrail: could not note a failed attempt", exc_info=True)
    return result


def noting_exception(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """wrapt wrapper of `_should_retry_exception(err)` (2.x): notes a retryable failure that has no response."""
    result = wrapped(*args, **kwargs)
    try:
        should_retry, response = result
        if should_retry is True and response is None:
            call = active_call()
            if call is not None:
                call.failed(error_type(args[0] if args else kwargs["err"]), None)
    except Exception:
        log.debug("tokentrail: could not note a failed attempt", exc_info=True)
    return result


def recording_retry(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """wrapt wrapper of `_calculate_retry_timeout(...)`: the SDK will retry after the wait it returns."""
    wait = wrapped(*args, **kwargs)
    try:
        call = active_call()
        if call is not None:
            call.retrying(float(wait))
    except Exception:
        log.debug("tokentrail: could not record a retry", exc_info=True)
    return wait


HOOKS: tuple[tuple[str, Any], ...] = (
    ("_should_retry", noting_response),
    ("_should_retry_exception", noting_exception),
    ("_calculate_retry_timeout", recording_retry),
)
"""(method of `BaseClient`, wrapper): each wrapped only where the SDK has it."""
