"""tokentrail.db.retention: pruning old partitions and orphan content blobs, against a real, migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, blob, insert, user_messages
from tokentrail.db import retention

pytestmark = pytest.mark.postgres

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def _partitions(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname IN ('spans', 'llm_calls', 'llm_call_reports')"
    ).fetchall()
    return {r[0] for r in rows}


def _blob_count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM content_blobs").fetchone()
    assert row is not None
    return int(row[0])


def _prune_data(conn: psycopg.Connection[Any]) -> None:
    shared = user_messages("the same system prompt")
    insert(
        conn,
        [
            # 100 days ago: two calls, one with a blob only it uses, one with a blob also used by a recent call
            Call(NOW - timedelta(days=100), input_body=user_messages("old only")),
            Call(NOW - timedelta(days=100, hours=-1), input_body=shared),
            # 95 days ago
            Call(NOW - timedelta(days=95), input_body=user_messages("old too")),
            # 89 days ago: within the kept window
            Call(NOW - timedelta(days=89), input_body=user_messages("kept")),
            Call(NOW - timedelta(days=1), input_body=shared),
        ],
    )


def test_prune_dry_run_changes_nothing(conn: psycopg.Connection[Any]) -> None:
    _prune_data(conn)
    before = (_partitions(conn), _blob_count(conn))
    result = retention.prune(conn, timedelta(days=90), dry_run=True, now=NOW)
    assert result.dry_run
    assert result.cutoff == NOW - timedelta(days=90)
    assert [(p.table, p.name, p.rows) for p in result.partitions] == [
        ("llm_call_reports", "llm_call_reports_p20260812", 0),
        ("llm_calls", "llm_calls_p20260812", 2),
        ("spans", "spans_p20260812", 2),
        ("llm_call_reports", "llm_call_reports_p20260817", 0),
        ("llm_calls", "llm_calls_p20260817", 1),
        ("spans", "spans_p20260817", 1),
    ]
    assert result.rows == 6
    assert result.blobs == 2
    assert (_partitions(conn), _blob_count(conn)) == before


def test_prune_drops_whole_old_partitions_and_unreferenced_blobs(conn: psycopg.Connection[Any]) -> None:
    _prune_data(conn)
    # an unreferenced blob written a moment ago (its call row may still be on its way) must survive
    with conn.cursor() as cur:
        blob(cur, "in flight", NOW - timedelta(minutes=5))
    before = _partitions(conn)
    result = retention.prune(conn, timedelta(days=90), now=NOW)
    assert not result.dry_run
    assert before - _partitions(conn) == {
        "llm_call_reports_p20260812",
        "llm_calls_p20260812",
        "spans_p20260812",
        "llm_call_reports_p20260817",
        "llm_calls_p20260817",
        "spans_p20260817",
    }
    assert {"llm_calls_p20260823", "spans_p20260823"} <= _partitions(conn)  # partly newer than the cutoff: kept
    assert result.blobs == 2
    bodies = {r[0] for r in conn.execute("SELECT body FROM content_blobs").fetchall()}
    assert bodies == {user_messages("the same system prompt"), user_messages("kept"), "in flight"}
    row = conn.execute("SELECT count(*) FROM llm_calls").fetchone()
    assert row is not None
    assert row[0] == 2
    again = retention.prune(conn, timedelta(days=90), now=NOW)
    assert (again.partitions, again.blobs) == ([], 0)


@pytest.mark.parametrize("older_than", [timedelta(0), timedelta(hours=23), timedelta(days=-3)])
def test_prune_refuses_nonsense(conn: psycopg.Connection[Any], older_than: timedelta) -> None:
    with pytest.raises(ValueError, match="at least"):
        retention.prune(conn, older_than)
