"""tokentrail: one OpenTelemetry span per Claude call, with tokens, cost, latency and content.

The public API is re-exported here lazily, so that importing a submodule (the sink, the CLI) does not pull in the
instrumentation, and `import tokentrail` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tokentrail._version import __version__

if TYPE_CHECKING:
    from tokentrail.errors import TokentrailError
    from tokentrail.instrumentation.context import attributes, current_ids, workflow
    from tokentrail.instrumentation.manual import llm_call
    from tokentrail.instrumentation.setup import instrument, uninstrument

__all__ = [
    "TokentrailError",
    "__version__",
    "attributes",
    "current_ids",
    "instrument",
    "llm_call",
    "uninstrument",
    "workflow",
]

_LAZY = {
    "TokentrailError": "tokentrail.errors",
    "attributes": "tokentrail.instrumentation.context",
    "workflow": "tokentrail.instrumentation.context",
    "current_ids": "tokentrail.instrumentation.context",
    "instrument": "tokentrail.instrumentation.setup",
    "llm_call": "tokentrail.instrumentation.manual",
    "uninstrument": "tokentrail.instrumentation.setup",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tokentrail' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
