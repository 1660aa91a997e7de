"""Schema migrations: `db/migrations/NNNN_name.sql`, applied in order, each exactly once.

`upgrade(conninfo)` takes a session-level `pg_advisory_lock` so that several sinks (or a sink and
`tokentrail db upgrade`) starting together apply each migration once, runs every pending file in its own
transaction, and records it in `tokentrail_schema_migrations` (version, name, SHA-256 of the file, time).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from tokentrail.errors import MigrationError

__all__ = ["MIGRATIONS_TABLE", "Migration", "MigrationError", "available", "pending", "upgrade"]

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "tokentrail_schema_migrations"
_LOCK_KEY = 0x746F6B656E747261  # "tokentra": one fixed advisory lock for every tokentrail migrator
_CONNECT_TIMEOUT = 10  # seconds; a database that does not answer must not hang a starting sink for minutes
_NAME = re.compile(r"^(\d{4})_([A-Za-z0-9_-]+)\.sql$")

_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    sha256     text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    folder = resources.files("tokentrail.db").joinpath("migrations")
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migration files have version {version}: {found[version].name}, {entry.name}")
        found[version] = Migration(version, entry.name, entry.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


def _applied(conn: psycopg.Connection[tuple[object, ...]]) -> dict[int, str]:
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (MIGRATIONS_TABLE,)).fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute(f"SELECT version, sha256 FROM {MIGRATIONS_TABLE}").fetchall()
    return {int(str(version)): str(digest) for version, digest in rows}


def pending(conn: psycopg.Connection[tuple[object, ...]]) -> list[Migration]:
    """The shipped migrations not yet applied on `conn`'s database (empty: the schema is current)."""
    applied = _applied(conn)
    return [migration for migration in available() if migration.version not in applied]


def upgrade(conninfo: str) -> list[int]:
    """Apply every pending migration in order and return the versions applied now (empty if up to date)."""
    migrations = available()
    done: list[int] = []
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=_CONNECT_TIMEOUT) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_CREATE_TABLE)
            applied = _applied(conn)
            for migration in migrations:
                recorded = applied.get(migration.version)
                if recorded is not None:
                    if recorded != migration.sha256:
                        log.warning("migration %s changed after it was applied; not re-applied", migration.name)
                    continue
                log.info("applying migration %s", migration.name)
                try:
                    with conn.transaction():
                        conn.execute(migration.sql)
                        conn.execute(
                            f"INSERT INTO {MIGRATIONS_TABLE} (version, name, sha256) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.sha256),
                        )
                except psycopg.errors.ProgrammingError as exc:
                    raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
                done.append(migration.version)
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return done
