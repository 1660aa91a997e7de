"""An exception as the span's `error.type` and status description, from the API error envelope it carries."""

from __future__ import annotations

from typing import Any

from tokentrail.contract.shapes import field

__all__ = ["error_description", "error_type"]


def _str(value: Any) -> str | None:
    return value if type(value) is str else None


def error_type(exc: BaseException) -> str:
    """`error.type`: the API error envelope's type (`rate_limit_error`, `overloaded_error`, ...) when the
    exception carries one (`APIStatusError.body`, stream `error` events), else the qualified class name."""
    body = getattr(exc, "body", None)
    envelope = field(body, "error")
    kind = _str(field(envelope, "type"))
    if kind is None:
        kind = _str(field(body, "type"))
        if kind == "error":
            kind = None
    if kind:
        return kind
    cls = type(exc)
    module = cls.__module__
    if module.startswith("anthropic."):
        module = "anthropic"  # the public name, not the private module
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def error_description(exc: BaseException) -> str:
    """The span status description: the API error envelope's message with the HTTP status when the exception
    carries an envelope (`Overloaded (HTTP 529)`), else `str(exc)`. The SDK's own text repeats the whole body."""
    body = getattr(exc, "body", None)
    message = _str(field(field(body, "error"), "message")) or _str(field(body, "message"))
    if not message:
        return str(exc)
    status = getattr(exc, "status_code", None)
    return f"{message} (HTTP {status})" if type(status) is int else message
