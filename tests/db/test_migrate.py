"""Migrations: applied in order, once, under an advisory lock, recorded with their checksum."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import psycopg
import pytest

from tests.fixtures.randomcalls import random_calls
from tests.fixtures.rows import insert
from tokentrail.db import migrate
from tokentrail.reports import queries, rollup
from tokentrail.reports.callfilter import CallFilter


@pytest.fixture
def empty_database(pg_cluster: Any) -> Iterator[str]:
    name = f"m_{uuid.uuid4().hex[:12]}"
    url: str = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)


def test_available_migrations_are_numbered_in_order() -> None:
    versions = [m.version for m in migrate.available()]
    assert versions[0] == 1
    assert versions == sorted(set(versions))
    assert migrate.available()[0].name == "0001_init.sql"


def test_upgrade_applies_everything_once_and_records_it(empty_database: str) -> None:
    expected = [m.version for m in migrate.available()]
    assert migrate.upgrade(empty_database) == expected
    assert migrate.upgrade(empty_database) == []
    with psycopg.connect(empty_database) as conn:
        rows = conn.execute(f"SELECT version, name, sha256 FROM {migrate.MIGRATIONS_TABLE} ORDER BY version").fetchall()
        assert [(v, n, d) for v, n, d in rows] == [(m.version, m.name, m.sha256) for m in migrate.available()]
        assert migrate.pending(conn) == []
        conn.execute("SELECT tokentrail_ensure_partitions('2026-11-22')")
        assert conn.execute("SELECT to_regclass('spans_p20261122') IS NOT NULL").fetchone() == (True,)


def test_concurrent_upgrades_apply_each_migration_exactly_once(empty_database: str) -> None:
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate.upgrade(empty_database))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    applied = sorted(version for result in results for version in result)
    assert applied == [m.version for m in migrate.available()]


def test_pending_lists_what_a_fresh_database_lacks(empty_database: str) -> None:
    with psycopg.connect(empty_database) as conn:
        assert [m.version for m in migrate.pending(conn)] == [m.version for m in migrate.available()]


def test_rollups_are_backfilled_from_the_calls_stored_before(empty_database: str) -> None:
    """0006 on a populated 0005 database: its rollups hold every call already stored, exactly."""
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(migrate._CREATE_TABLE)
        for migration in migrate.available():
            if migration.version < 6:
                conn.execute(migration.sql)
                conn.execute(
                    f"INSERT INTO {migrate.MIGRATIONS_TABLE} (version, name, sha256) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.sha256),
                )
        insert(conn, random_calls(random.Random(2), datetime(2026, 11, 16, tzinfo=timezone.utc), 80))
        assert migrate.upgrade(empty_database) == [m.version for m in migrate.available() if m.version >= 6]
        for by in (None, "model", "user", "tag", "attr:company_id", "prompt-version"):
            exact = {
                (r.key, r.calls, r.errors, r.cost_usd, r.input_tokens) for r in queries.stats(conn, CallFilter(), by)
            }
            rolled = rollup.read_totals(conn, CallFilter(), by)
            assert rollup.family_for(CallFilter(), by) is not rollup.RAW
            assert {(r.key, r.calls, r.errors, r.cost_usd, r.input_tokens) for r in rolled} == exact, by
