"""The OpenTelemetry context's switch, on the hot path: `attach`, `detach` and `current_context`.

With the default runtime context (a context variable) they are that variable's own `set`, `reset` and `get`: the
API's functions add two Python calls to each, and they run on every call (the call's context around the SDK's
work, the app attributes' lookup) and around every stream read. The pairs are always made in one frame (no token
crosses a context), which is what `reset` needs; any other runtime context (`OTEL_PYTHON_CONTEXT`) goes through
the API.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from contextvars import Token

from opentelemetry import context as context_api

__all__ = ["attach", "current_context", "detach"]

_Attach = Callable[[context_api.Context], Token[context_api.Context]]
_Detach = Callable[[Token[context_api.Context]], None]
_Current = Callable[[], context_api.Context]


def _context_switch() -> tuple[_Attach, _Detach, _Current]:
    """`attach`, `detach` and `get_current` of the OpenTelemetry context, as fast as its runtime context allows."""
    runtime = getattr(context_api, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if type(runtime).__name__ == "ContextVarsRuntimeContext" and isinstance(variable, contextvars.ContextVar):
        return variable.set, variable.reset, variable.get
    return context_api.attach, context_api.detach, context_api.get_current


attach, detach, current_context = _context_switch()
"""Make a context current, restore the previous one, and read the current one."""
