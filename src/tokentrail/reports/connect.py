"""Finding and opening the database the reports read, with every failure as one line for a person.

The URL is the one given, else the configured one (`TOKENTRAIL_DATABASE_URL`), else the embedded cluster's when
it is running, else a running demo's (`./.demo`, when `TOKENTRAIL_DATA_DIR` is unset). Failures raise
`CommandError`: code 2 when the configuration is missing or malformed, 1 when the database is unreachable, has
no schema or a query fails. Messages never carry the URL's credentials.
psycopg is imported on first use, so a missing `sink` extra is reported, not a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tokentrail.errors import CommandError

if TYPE_CHECKING:
    import psycopg

__all__ = ["DEMO_DATA_DIR", "connect", "describe", "first_line", "locate", "require_driver"]


DEMO_DATA_DIR: Final = Path(".demo")
"""The demo's data directory (`tokentrail demo`'s default), relative to where the CLI runs: the repository root."""


def locate(configured: str | None, data_dir: str | os.PathLike[str]) -> str:
    """The database URL when none was given: `configured`, else the running embedded cluster's under `data_dir`,
    else, when `data_dir` is the default one (`TOKENTRAIL_DATA_DIR` unset), a running demo's under `./.demo`."""
    if configured:
        return configured
    from tokentrail.db import settings
    from tokentrail.db.embedded import running_url

    url = running_url(data_dir)
    if url is None and Path(data_dir) == settings.DEFAULT_DATA_DIR:
        url = running_url(DEMO_DATA_DIR)
    if url:
        return url
    raise CommandError(
        "no database configured: set TOKENTRAIL_DATABASE_URL (e.g. postgresql://user@localhost:5432/tokentrail), "
        "pass --database-url, start the embedded database with `tokentrail sink`, or run this from the directory "
        "of a running `tokentrail demo`",
        2,
    )


def describe(url: str) -> str:
    """Where a URL points (`host:port/dbname`), without credentials; a malformed URL is a usage error."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise CommandError(f"invalid database URL: {first_line(exc)}", 2) from None
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (psycopg's carry context lines), or its class name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def require_driver() -> None:
    """Fail with a one-line hint when psycopg (the `sink` extra) is not installed."""
    try:
        import psycopg  # noqa: F401
    except ModuleNotFoundError:
        raise CommandError("psycopg is not installed: `pip install 'tokentrail[sink]'`", 1) from None


@contextmanager
def connect(url: str, application_name: str = "tokentrail-cli") -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to `url`, closed on exit; database errors inside become `CommandError`."""
    require_driver()
    import psycopg

    where = describe(url)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10, application_name=application_name)
    except psycopg.OperationalError as exc:
        raise CommandError(f"cannot connect to the database at {where}: {first_line(exc)}", 1) from None
    try:
        with conn:
            yield conn
    except psycopg.errors.UndefinedTable as exc:
        raise CommandError(
            f"the database at {where} has no tokentrail schema ({first_line(exc)}); run `tokentrail db upgrade`", 1
        ) from None
    except psycopg.Error as exc:
        raise CommandError(f"database error at {where}: {first_line(exc)}", 1) from None
