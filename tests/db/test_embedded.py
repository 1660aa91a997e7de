"""The embedded default database: a real private cluster, initialised, started, found again and stopped."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tokentrail.db.embedded import EmbeddedPostgres, EmbeddedPostgresError, running_url


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tokentrail-embedded-"))
    path.chmod(0o755)
    yield path
    EmbeddedPostgres(path).destroy()


def test_start_creates_a_database_that_keeps_data_across_restarts(data_dir: Path) -> None:
    cluster = EmbeddedPostgres(data_dir, durable=False)
    url = cluster.start()
    assert url.startswith("postgresql://tokentrail@127.0.0.1:")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    assert running_url(data_dir) == url

    cluster.stop()
    assert running_url(data_dir) is None

    again = EmbeddedPostgres(data_dir, durable=False)
    assert again.start() == url, "the port chosen the first time is reused"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
    again.stop()


def test_a_second_handle_reuses_the_running_cluster_and_does_not_stop_it(data_dir: Path) -> None:
    owner = EmbeddedPostgres(data_dir, durable=False)
    url = owner.start()
    visitor = EmbeddedPostgres(data_dir)
    assert visitor.start() == url
    visitor.stop()  # did not start it: a no-op
    assert running_url(data_dir) == url
    owner.stop()
    assert running_url(data_dir) is None


def test_missing_binaries_give_a_clear_error(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENTRAIL_PG_BINDIR", str(data_dir / "nowhere"))
    monkeypatch.setenv("PATH", str(data_dir))  # hides pg_config
    monkeypatch.setattr(Path, "glob", lambda self, pattern: iter(()))
    with pytest.raises(EmbeddedPostgresError, match="TOKENTRAIL_DATABASE_URL"):
        EmbeddedPostgres(data_dir).start()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="the root fallback applies to root only")
def test_as_root_an_unreachable_data_dir_puts_the_cluster_where_postgres_can_reach_it() -> None:
    private = Path(tempfile.mkdtemp(prefix="tokentrail-private-"))  # mkdtemp makes it 0700, owned by root
    cluster = EmbeddedPostgres(private, durable=False)
    try:
        url = cluster.start()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert not str(cluster._pgdata()).startswith(str(private))
    finally:
        cluster.destroy()
