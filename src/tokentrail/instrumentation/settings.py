"""The application's settings: read once from the environment (`TOKENTRAIL_*` and the standard `OTEL_*`),
overridable by keyword.

Only what the instrumentation uses lives here; the sink's and the database's settings are
`tokentrail.sink.settings`, so that nothing meant for the sink in an application's environment can make
`tokentrail.instrument()` fail. (The OpenTelemetry exporters read their own `OTEL_EXPORTER_OTLP_*` variables; we
do not duplicate that.)
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokentrail._env import PRICES_FILE, optional_path, positive_int, positive_seconds
from tokentrail.contract import semconv
from tokentrail.errors import ConfigurationError

__all__ = [
    "CAPTURE_SERVER_REQUEST_HEADERS",
    "CaptureMode",
    "Settings",
    "capture_request_id_header",
    "current",
    "load",
    "parse_capture_mode",
    "use",
]

log = logging.getLogger(__name__)


class CaptureMode(enum.Enum):
    """Where prompt and completion content goes. tokentrail records content on spans only."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"

    @property
    def on_span(self) -> bool:
        return self is CaptureMode.SPAN_ONLY


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_MODE_NAMES = {
    "no_content": CaptureMode.NO_CONTENT,
    "span_only": CaptureMode.SPAN_ONLY,
    "span_and_event": CaptureMode.SPAN_ONLY,  # events are not emitted; the span carries the content
    "event_only": CaptureMode.NO_CONTENT,  # no span content asked for
}


def parse_capture_mode(value: str | bool | CaptureMode | None, default: CaptureMode) -> CaptureMode:
    """Accept `true/false` (and 1/0, yes/no, on/off) and the semconv mode names, case-insensitively."""
    if value is None:
        return default
    if isinstance(value, CaptureMode):
        return value
    if isinstance(value, bool):
        return CaptureMode.SPAN_ONLY if value else CaptureMode.NO_CONTENT
    text = value.strip().lower()
    if not text:
        return default
    if text in _TRUE:
        return CaptureMode.SPAN_ONLY
    if text in _FALSE:
        return CaptureMode.NO_CONTENT
    if text in _MODE_NAMES:
        return _MODE_NAMES[text]
    raise ConfigurationError(
        f"capture content: {value!r} is not one of true, false, NO_CONTENT, SPAN_ONLY, SPAN_AND_EVENT, EVENT_ONLY"
    )


Redactor = Callable[[str, Any], Any]
"""A redaction hook: called with (attribute name, value) before content is serialised; returns the value to keep."""


@dataclass(frozen=True)
class Settings:
    # instrumentation
    service_name: str | None = None
    capture_content: CaptureMode = CaptureMode.SPAN_ONLY
    content_max_bytes: int = 65536
    """Byte budget for each content attribute; longer values are cut and flagged as truncated."""
    redact: Redactor | None = None
    prices_file: Path | None = None
    """A user price override file (JSON or TOML) consulted before the genai-prices data."""
    metrics: bool = True
    shutdown_timeout: float = 5.0
    """Seconds the shutdown of the providers tokentrail created may take in all (at exit, in `uninstrument()`).

    Export still under way at the deadline (a dead or hanging collector) is abandoned and its data dropped."""
    # OpenTelemetry export set up by `tokentrail.instrument()` (the exporters read their own OTEL_EXPORTER_OTLP_*)
    traces_exporter: str = "otlp"
    """`OTEL_TRACES_EXPORTER`: comma-separated exporter names (`otlp`, `console`, `none` or an entry point name)."""
    metrics_exporter: str = "otlp"
    """`OTEL_METRICS_EXPORTER`, as `traces_exporter`."""
    otlp_traces_protocol: str = "http/protobuf"
    """`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` or `grpc`."""
    otlp_metrics_protocol: str = "http/protobuf"
    """`OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`."""

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def load(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from `env` (default: `os.environ`), with keyword overrides taking precedence.

    Keyword values of `None` mean "not given" and leave the environment's value in place.
    """
    env = os.environ if env is None else env
    capture_raw = env.get("TOKENTRAIL_CAPTURE_CONTENT") or env.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    values: dict[str, Any] = {
        "service_name": env.get("TOKENTRAIL_SERVICE_NAME") or env.get("OTEL_SERVICE_NAME") or None,
        "capture_content": parse_capture_mode(capture_raw, CaptureMode.SPAN_ONLY),
        "content_max_bytes": positive_int(env, "TOKENTRAIL_CONTENT_MAX_BYTES", Settings.content_max_bytes),
        "prices_file": optional_path(env, PRICES_FILE),
        "metrics": (env.get("TOKENTRAIL_METRICS", "true").strip().lower() not in _FALSE),
        "shutdown_timeout": positive_seconds(env, "TOKENTRAIL_SHUTDOWN_TIMEOUT", Settings.shutdown_timeout),
        "traces_exporter": (env.get("OTEL_TRACES_EXPORTER") or "").strip() or Settings.traces_exporter,
        "metrics_exporter": (env.get("OTEL_METRICS_EXPORTER") or "").strip() or Settings.metrics_exporter,
        "otlp_traces_protocol": (
            env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
        ).strip()
        or Settings.otlp_traces_protocol,
        "otlp_metrics_protocol": (
            env.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
        ).strip()
        or Settings.otlp_metrics_protocol,
    }
    for key, given in overrides.items():
        if key not in values and key != "redact":
            raise TypeError(f"unknown setting {key!r}")
        if given is None:
            continue
        if key == "capture_content":
            values[key] = parse_capture_mode(given, CaptureMode.SPAN_ONLY)
        elif key == "prices_file":
            values[key] = Path(given)
        else:
            values[key] = given
    return Settings(**values)


_current: Settings | None = None


def use(settings: Settings | None) -> None:
    """Make `settings` what `current()` answers (`instrument()` sets it, `uninstrument()` clears it)."""
    global _current
    _current = settings


def current() -> Settings:
    """The settings `instrument()` resolved, or the environment's settings when it has not been called."""
    given = _current
    return given if given is not None else load()


CAPTURE_SERVER_REQUEST_HEADERS = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"
"""The request headers the OpenTelemetry HTTP server instrumentations (ASGI, FastAPI, ...) copy onto SERVER spans."""


def capture_request_id_header(environ: MutableMapping[str, str] | None = None) -> None:
    """Have HTTP server spans capture `X-Request-ID` unless the application chose the headers itself (the
    variable is set, even empty). The server instrumentations read it when their middleware is built, so this
    runs in `instrument()` and in the distro, before them."""
    (os.environ if environ is None else environ).setdefault(CAPTURE_SERVER_REQUEST_HEADERS, semconv.REQUEST_ID_HEADER)
