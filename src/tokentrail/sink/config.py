"""`SinkConfig`: everything one sink service needs to run, filled from the sink's settings and the command line.

Kept apart from `tokentrail.sink.settings` (what the environment says) so that tests, the demo and the command
line build one typed value, and every layer of the service reads its limits from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tokentrail.sink import settings as settings_module

__all__ = ["SinkConfig"]


@dataclass(frozen=True)
class SinkConfig:
    """Everything the sink needs to run; `from_settings` fills it from `tokentrail.sink.settings`."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 4318
    grpc_port: int | None = None
    token: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    max_inflight: int = 8
    """Export requests processed at once (HTTP and gRPC together), counted once the body has arrived; more get
    503 + Retry-After."""
    body_idle_timeout: float = 10.0
    """Longest pause while a request body arrives; a body that stalls longer is answered 408 and closed."""
    body_timeout: float = 60.0
    """Longest time to receive a whole request body (from the end of the headers); then 408 and closed."""
    receive_budget_bytes: int | None = None
    """Bytes of bodies being received at once (not yet processed); beyond it 503. None: max_inflight x
    max_body_bytes."""
    pool_size: int = 4
    acquire_timeout: float = 5.0
    """How long a request waits for a database connection before it is answered 503."""
    retry_after_unavailable: int = 5
    retry_after_busy: int = 1
    breaker_seconds: float = 1.0
    """After a write failed for lack of the database, turn requests away (503) for this long."""
    migrate: bool = True
    drain_timeout: float = 30.0
    """On shutdown, how long in-flight requests may take to finish before the server closes."""

    @classmethod
    def from_settings(cls, settings: settings_module.SinkSettings, database_url: str, **overrides: Any) -> SinkConfig:
        values: dict[str, Any] = {
            "database_url": database_url,
            "host": settings.sink_host,
            "port": settings.sink_port,
            "grpc_port": settings.sink_grpc_port,
            "token": settings.sink_token,
            "max_body_bytes": settings.sink_max_body_bytes,
            "body_idle_timeout": settings.sink_body_idle_timeout,
            "body_timeout": settings.sink_body_timeout,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)
