"""Retention: drop the daily partitions older than a cutoff (and their rollup rows), then the content blobs nothing
references any more.

The read side only reads; this is the one write besides the sink's store, so it lives with the database. psycopg is
imported when `prune` runs, so that `MIN_RETENTION` can be shared with argument parsing at no cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import psycopg

__all__ = ["BLOB_GRACE", "MIN_RETENTION", "PartitionInfo", "PruneResult", "prune"]


@dataclass(frozen=True)
class PartitionInfo:
    table: str
    """The partitioned table: `spans`, `llm_calls` or `llm_call_reports`."""
    name: str
    start: datetime
    end: datetime
    rows: int


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    dry_run: bool
    partitions: list[PartitionInfo]
    blobs: int
    """Content blobs deleted (dry run: that would be deleted)."""

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)


MIN_RETENTION: Final = timedelta(days=1)
"""Partitions are daily: a shorter retention would drop the day being written."""
BLOB_GRACE: Final = timedelta(hours=1)
"""Blobs younger than this are kept: the sink may have stored a body whose call row is not committed yet."""

_PARTITIONS_QUERY: Final = r"""
SELECT parent.relname AS table, child.relname AS name, child.oid AS oid,
       (regexp_match(pg_get_expr(child.relpartbound, child.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz AS start,
       (regexp_match(pg_get_expr(child.relpartbound, child.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS "end"
FROM pg_inherits AS i
JOIN pg_class AS parent ON parent.oid = i.inhparent
JOIN pg_class AS child ON child.oid = i.inhrelid
JOIN pg_namespace AS ns ON ns.oid = parent.relnamespace
WHERE parent.relname IN ('spans', 'llm_calls', 'llm_call_reports') AND ns.nspname = current_schema()
"""

# Unreferenced blobs past the grace period; `{keep}` restricts which call rows still count as references.
_UNREFERENCED_BLOBS: Final = """
WITH referenced AS MATERIALIZED (
    SELECT DISTINCT v.sha256 FROM (
        SELECT tableoid, system_sha256, input_sha256, output_sha256, tools_sha256 FROM llm_calls
        UNION ALL
        SELECT tableoid, system_sha256, input_sha256, output_sha256, tools_sha256 FROM llm_call_reports
    ) AS c
    CROSS JOIN LATERAL (VALUES (c.system_sha256), (c.input_sha256), (c.output_sha256), (c.tools_sha256)) AS v(sha256)
    WHERE v.sha256 IS NOT NULL{keep}
)
SELECT b.sha256 FROM content_blobs AS b
WHERE b.first_seen < %(grace)s AND NOT EXISTS (SELECT 1 FROM referenced AS r WHERE r.sha256 = b.sha256)
"""


def prune(
    conn: psycopg.Connection[Any],
    older_than: timedelta,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    blob_grace: timedelta = BLOB_GRACE,
) -> PruneResult:
    """Drop the daily partitions of `spans`, `llm_calls` and `llm_call_reports` that lie entirely before
    `now - older_than`, then delete the content blobs no call references any more.

    Blobs first seen within `blob_grace` are kept: the sink may have stored a body whose call row is not committed
    yet. Blobs locked by a concurrent writer are skipped, never waited for. With `dry_run` nothing changes and the
    result says what would go. Runs in one transaction; refuses `older_than` under one day.
    """
    from psycopg import sql
    from psycopg.rows import dict_row

    if older_than < MIN_RETENTION:
        raise ValueError(f"older_than must be at least {MIN_RETENTION.days} day (got {older_than})")
    now = now or datetime.now(timezone.utc)
    cutoff = now - older_than
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(_PARTITIONS_QUERY).fetchall()
        doomed = sorted(
            (row for row in found if row["end"] is not None and row["end"] <= cutoff),
            key=lambda row: (row["start"], row["table"]),
        )
        partitions = [
            PartitionInfo(
                table=row["table"],
                name=row["name"],
                start=row["start"],
                end=row["end"],
                rows=_count(cur, row["name"]),
            )
            for row in doomed
        ]
        grace_cut = now - blob_grace
        if dry_run:
            oids = [int(row["oid"]) for row in doomed]
            query = _UNREFERENCED_BLOBS.format(keep=" AND c.tableoid <> ALL(%(oids)s::oid[])")
            count = cur.execute(f"SELECT count(*) AS n FROM ({query}) AS gone", {"grace": grace_cut, "oids": oids})
            blobs = int(_first(count.fetchone()))
        else:
            cur.execute("SET LOCAL lock_timeout = '30s'")
            for row in doomed:
                cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(row["name"])))
                if row["table"] == "llm_calls":
                    # A dropped partition fires no trigger: its hours and day leave the rollups here.
                    cur.execute("SELECT tokentrail_rollup_forget(%s, %s)", (row["start"], row["end"]))
            # SKIP LOCKED: a blob a concurrent writer is referencing right now (its FK check holds a key-share
            # lock) is left for the next prune instead of failing this one.
            query = _UNREFERENCED_BLOBS.format(keep="") + " FOR UPDATE OF b SKIP LOCKED"
            cur.execute(f"DELETE FROM content_blobs WHERE sha256 IN ({query})", {"grace": grace_cut})
            blobs = cur.rowcount
    return PruneResult(cutoff=cutoff, dry_run=dry_run, partitions=partitions, blobs=blobs)


def _count(cur: psycopg.Cursor[dict[str, Any]], table: str) -> int:
    from psycopg import sql

    return int(_first(cur.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table))).fetchone()))


def _first(row: dict[str, Any] | None) -> Any:
    if row is None:
        raise RuntimeError("the query returned no row")
    return next(iter(row.values()))
