"""tokentrail.ui.pages.common.reads: a page's queries side by side, each on its own pooled connection."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.requests import Request

from tokentrail.ui.app import QUERY_WORKERS, create_app
from tokentrail.ui.db import open_pool
from tokentrail.ui.pages.common import reads
from tokentrail.ui.settings import UiSettings

pytestmark = pytest.mark.postgres


@pytest.fixture
def request_(database_url: str) -> Iterator[Request]:
    pool = open_pool(database_url)
    app = create_app(UiSettings(database_url=database_url, port=0), pool=pool)
    try:
        yield Request({"type": "http", "app": app, "method": "GET", "path": "/", "headers": []})
    finally:
        app.state.reads.shutdown(wait=True)
        pool.close()


def test_the_queries_run_at_the_same_time_on_their_own_connections(request_: Request) -> None:
    both = threading.Barrier(QUERY_WORKERS, timeout=20)  # broken unless every query is running at once

    def read(conn: psycopg.Connection[Any]) -> int:
        both.wait()
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])

    with reads(request_) as run:
        started = [run(read) for _ in range(QUERY_WORKERS)]
    pids = [f.result() for f in started]
    assert len(set(pids)) == QUERY_WORKERS


def test_a_failed_query_fails_the_block_after_the_others_end(request_: Request) -> None:
    ended = threading.Event()

    def slow(conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT pg_sleep(0.2)")
        ended.set()

    def page() -> None:
        with reads(request_) as run:
            run(slow)
            run(lambda c: c.execute("SELECT * FROM no_such_table"))

    with pytest.raises(psycopg.errors.UndefinedTable):
        page()
    assert ended.is_set()


def test_the_block_s_own_error_is_the_one_raised(request_: Request) -> None:
    def page() -> None:
        with reads(request_) as run:
            run(lambda c: c.execute("SELECT * FROM no_such_table"))
            raise KeyError("the page's own failure")

    with pytest.raises(KeyError):
        page()
