"""The UI's connection pool: every session read-only (`default_transaction_read_only=on`), autocommit.

The UI never writes; the option makes the database enforce that, whatever a page's query does. Every query is
planned for its own parameters (`plan_cache_mode=force_custom_plan`).
"""

from __future__ import annotations

from typing import Any, Final

from psycopg_pool import ConnectionPool

__all__ = ["APPLICATION_NAME", "open_pool"]

APPLICATION_NAME: Final = "tokentrail-ui"


def open_pool(url: str, *, min_size: int = 1, max_size: int = 8, timeout: float = 10.0) -> ConnectionPool[Any]:
    """An opened pool of read-only autocommit connections to `url` (connections are made in the background)."""
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        name=APPLICATION_NAME,
        kwargs={
            "autocommit": True,
            "application_name": APPLICATION_NAME,
            "connect_timeout": 10,
            # force_custom_plan: psycopg prepares a query run five times, and Postgres would then switch to a
            # generic plan, which cannot prune partitions or pick indexes by the time range's actual values.
            "options": (
                "-c default_transaction_read_only=on -c statement_timeout=60000 -c plan_cache_mode=force_custom_plan"
            ),
        },
    )
    pool.open(wait=False)
    return pool
