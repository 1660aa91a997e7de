"""The sink's settings: `TOKENTRAIL_SINK_*`, plus where its database is (`tokentrail.db.settings`:
`TOKENTRAIL_DATABASE_URL`, `TOKENTRAIL_DATA_DIR`), overridable by keyword.

Kept apart from the application's settings (`tokentrail.instrumentation.settings`): nothing meant for the sink
in an application's environment can make `tokentrail.instrument()` fail, and nothing meant for the application
can stop the sink.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokentrail._env import positive_int, positive_seconds
from tokentrail.db import settings as database
from tokentrail.db.settings import DEFAULT_DATA_DIR

__all__ = ["DEFAULT_DATA_DIR", "SinkSettings", "load"]


@dataclass(frozen=True)
class SinkSettings:
    database_url: str | None = None
    """`TOKENTRAIL_DATABASE_URL`; without one, the embedded cluster under `data_dir`."""
    data_dir: Path = DEFAULT_DATA_DIR
    """`TOKENTRAIL_DATA_DIR`: where the embedded Postgres cluster lives when no database URL is given."""
    sink_host: str = "127.0.0.1"
    sink_port: int = 4318
    sink_grpc_port: int | None = None
    sink_token: str | None = None
    sink_max_body_bytes: int = 16 * 1024 * 1024
    sink_body_idle_timeout: float = 10.0
    """`TOKENTRAIL_SINK_BODY_IDLE_TIMEOUT`: seconds a request body may pause between reads (else 408)."""
    sink_body_timeout: float = 60.0
    """`TOKENTRAIL_SINK_BODY_TIMEOUT`: seconds a whole request body may take to arrive (else 408)."""

    def replace(self, **changes: Any) -> SinkSettings:
        return dataclasses.replace(self, **changes)


def load(env: Mapping[str, str] | None = None, **overrides: Any) -> SinkSettings:
    """Settings from `env` (default: `os.environ`); keyword values other than `None` take precedence."""
    env = os.environ if env is None else env
    grpc_port = env.get("TOKENTRAIL_SINK_GRPC_PORT")
    defaults = SinkSettings
    db = database.load(env)
    values: dict[str, Any] = {
        "database_url": db.database_url,
        "data_dir": db.data_dir,
        "sink_host": env.get("TOKENTRAIL_SINK_HOST") or defaults.sink_host,
        "sink_port": positive_int(env, "TOKENTRAIL_SINK_PORT", defaults.sink_port),
        "sink_grpc_port": positive_int(env, "TOKENTRAIL_SINK_GRPC_PORT", 4317) if grpc_port else None,
        "sink_token": env.get("TOKENTRAIL_SINK_TOKEN") or None,
        "sink_max_body_bytes": positive_int(env, "TOKENTRAIL_SINK_MAX_BODY_BYTES", defaults.sink_max_body_bytes),
        "sink_body_idle_timeout": positive_seconds(
            env, "TOKENTRAIL_SINK_BODY_IDLE_TIMEOUT", defaults.sink_body_idle_timeout
        ),
        "sink_body_timeout": positive_seconds(env, "TOKENTRAIL_SINK_BODY_TIMEOUT", defaults.sink_body_timeout),
    }
    for key, given in overrides.items():
        if key not in values:
            raise TypeError(f"unknown setting {key!r}")
        if given is not None:
            values[key] = Path(given) if key == "data_dir" else given
    return SinkSettings(**values)
