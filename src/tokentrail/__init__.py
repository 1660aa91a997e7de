"""tokentrail: one OpenTelemetry span per Claude call, with tokens, cost, latency and content.

The public API is re-exported here lazily, so that importing a submodule (the sink, the CLI) does not pull in the
instrumentation, and `import tokentrail` stays cheap.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokentrail.context import attributes, workflow
    from tokentrail.setup import instrument, uninstrument

try:
    __version__ = version("tokentrail")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0.0.0"

__all__ = ["__version__", "attributes", "instrument", "uninstrument", "workflow"]

_LAZY = {
    "attributes": "tokentrail.context",
    "workflow": "tokentrail.context",
    "instrument": "tokentrail.setup",
    "uninstrument": "tokentrail.setup",
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
