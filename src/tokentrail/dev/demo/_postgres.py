"""The demo's Postgres: the embedded cluster or `TOKENTRAIL_DATABASE_URL`, migrated; counting and picking its rows."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from pathlib import Path

from tokentrail.errors import DemoError

__all__ = ["count_calls", "pick_trace", "prepare_database", "redact_url"]


def prepare_database(database_url: str | None, data_dir: Path, cleanup: contextlib.ExitStack) -> str:
    """`database_url`, else the embedded cluster under `data_dir` (stopped by `cleanup` unless it was already
    running), upgraded to the current schema; returns its URL."""
    if database_url:
        print(f"postgres    {redact_url(database_url)} (TOKENTRAIL_DATABASE_URL)", flush=True)
        url = database_url
    else:
        from tokentrail.db.embedded import EmbeddedPostgres, EmbeddedPostgresError, running_url

        embedded = EmbeddedPostgres(data_dir)
        already_running = running_url(data_dir) is not None
        # Registered before starting, so that Ctrl-C during the start still stops a cluster the demo started.
        cleanup.callback(lambda: embedded.stop(force=not already_running))
        try:
            url = embedded.start()
        except EmbeddedPostgresError as exc:
            raise DemoError(str(exc)) from exc
        print(f"postgres    {url} (embedded, files under {data_dir})", flush=True)
    import psycopg

    from tokentrail.db.migrate import MigrationError, upgrade

    try:
        upgrade(url)
    except (psycopg.Error, MigrationError) as exc:
        raise DemoError(f"cannot prepare the database {redact_url(url)}: {exc}") from exc
    return url


def count_calls(database_url: str, service_name: str, since: datetime) -> int:
    """LLM calls of `service_name` stored since `since` (0 while the database does not answer)."""
    import psycopg

    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM llm_calls WHERE service_name = %s AND start_time >= %s", (service_name, since)
            ).fetchone()
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


def pick_trace(database_url: str, service_name: str, since: datetime) -> str | None:
    """The newest trace of this run with a successful three-call workflow (the most interesting tree)."""
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT trace_id FROM llm_calls WHERE service_name = %s AND start_time >= %s"
            " GROUP BY trace_id ORDER BY bool_and(status = 'ok') DESC, count(*) DESC, max(start_time) DESC LIMIT 1",
            (service_name, since),
        ).fetchone()
    return str(row[0]) if row else None


def redact_url(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)
