"""The UI's settings: where it listens, the access token, the database, the Jaeger link and the refresh period.

Read from `TOKENTRAIL_UI_*` (and `TOKENTRAIL_DATABASE_URL`); command-line options override them. Bound to any
address but loopback the UI refuses to start without a token.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from tokentrail._env import optional_path
from tokentrail.db.settings import DEFAULT_DATA_DIR
from tokentrail.errors import ConfigurationError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "UiSettings", "is_loopback", "load"]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 4319
DEFAULT_REFRESH: Final = 30


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class UiSettings:
    database_url: str
    """The database to read (opened read-only)."""
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    """`TOKENTRAIL_UI_TOKEN`: when set, every request must carry it; required off loopback."""
    jaeger_url: str | None = None
    """`TOKENTRAIL_UI_JAEGER_URL`: the Jaeger UI's base URL, for "open in Jaeger" links; none without it."""
    refresh_seconds: int = DEFAULT_REFRESH
    """`TOKENTRAIL_UI_REFRESH`: how often the overview reloads itself over a moving range (0: never)."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigurationError(f"UI port {self.port} is not between 0 and 65535")
        if self.refresh_seconds < 0:
            raise ConfigurationError("the UI refresh period must not be negative")
        if self.token is not None and not self.token.strip():
            raise ConfigurationError("the UI token must not be empty")
        if not self.token and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to serve the UI on {self.host} without a token: set TOKENTRAIL_UI_TOKEN or pass --token "
                "(or bind 127.0.0.1)"
            )
        if self.jaeger_url is not None and not self.jaeger_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"the Jaeger URL {self.jaeger_url!r} must start with http:// or https://")


def load(
    env: Mapping[str, str] | None = None,
    *,
    database_url: str | None = None,
    host: str | None = None,
    port: int | None = None,
    token: str | None = None,
    jaeger_url: str | None = None,
) -> UiSettings:
    """Settings from the environment, each given argument taking precedence over its variable."""
    env = os.environ if env is None else env
    url = database_url or env.get("TOKENTRAIL_DATABASE_URL") or None
    if url is None:
        from tokentrail.reports.connect import locate

        url = locate(None, optional_path(env, "TOKENTRAIL_DATA_DIR") or DEFAULT_DATA_DIR)
    return UiSettings(
        database_url=url,
        host=host or env.get("TOKENTRAIL_UI_HOST") or DEFAULT_HOST,
        port=port if port is not None else _int(env, "TOKENTRAIL_UI_PORT", DEFAULT_PORT),
        token=token or env.get("TOKENTRAIL_UI_TOKEN") or None,
        jaeger_url=(jaeger_url or env.get("TOKENTRAIL_UI_JAEGER_URL") or "").rstrip("/") or None,
        refresh_seconds=_int(env, "TOKENTRAIL_UI_REFRESH", DEFAULT_REFRESH),
    )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigurationError(f"{name}={text!r} is not a whole number") from None
