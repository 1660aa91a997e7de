"""Migrations: applied in order, once, under an advisory lock, recorded with their checksum."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tokentrail.db import migrate


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
