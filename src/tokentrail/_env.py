"""Reading typed values from environment variables, with one clear error per bad value. Imports nothing above it:
both the app side (`tokentrail.instrumentation.settings`) and the server side (`tokentrail.sink.settings`) use it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from tokentrail.errors import ConfigurationError

__all__ = ["PRICES_FILE", "optional_path", "positive_int", "positive_seconds"]

PRICES_FILE = "TOKENTRAIL_PRICES_FILE"
"""The price override file: read by the app's settings and by the sink's pricing alike."""


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise ConfigurationError(f"{name}={raw!r} must be positive")
    return value


def positive_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{name}={raw!r} must be a positive number of seconds")
    return value


def optional_path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw) if raw and raw.strip() else None
