"""tokentrail: one OpenTelemetry span per Claude call, with tokens, cost, latency and content."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from tokentrail.context import attributes, workflow
from tokentrail.setup import instrument, uninstrument

try:
    __version__ = version("tokentrail")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0.0.0"

__all__ = ["__version__", "attributes", "instrument", "uninstrument", "workflow"]
