"""Where the database is: `TOKENTRAIL_DATABASE_URL`, else the embedded cluster under `TOKENTRAIL_DATA_DIR`.

The one place that reads these two variables. The sink's settings build on it, and the read side (CLI, reports)
uses it alone, so a bad sink-only variable (`TOKENTRAIL_SINK_PORT=abc`) never stops a report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tokentrail._env import optional_path

__all__ = ["DEFAULT_DATA_DIR", "DatabaseSettings", "load"]

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "tokentrail"


@dataclass(frozen=True)
class DatabaseSettings:
    database_url: str | None = None
    """`TOKENTRAIL_DATABASE_URL`; without one, the embedded cluster under `data_dir`."""
    data_dir: Path = DEFAULT_DATA_DIR
    """`TOKENTRAIL_DATA_DIR`: where the embedded Postgres cluster lives when no database URL is given."""


def load(env: Mapping[str, str] | None = None) -> DatabaseSettings:
    env = os.environ if env is None else env
    return DatabaseSettings(
        database_url=env.get("TOKENTRAIL_DATABASE_URL") or None,
        data_dir=optional_path(env, "TOKENTRAIL_DATA_DIR") or DEFAULT_DATA_DIR,
    )
