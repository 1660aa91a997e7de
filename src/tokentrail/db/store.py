"""The sink's writes to Postgres: batched, idempotent, acknowledged only after commit.

One `Batch` is one transaction. Each pooled connection owns three temporary staging tables (created once per
connection, `ON COMMIT DELETE ROWS`). Content blobs (which repeat across batches by design) are COPYed into their
stage and moved with `INSERT ... SELECT ... ON CONFLICT DO NOTHING`. Spans and LLM calls are first COPYed straight
into their tables under a savepoint (a new batch, the usual case, costs what a bulk load costs); if any key already
exists (a collector retry), the savepoint is rolled back and they take the same staged, conflict-ignoring path, so
a retried export (same trace id, span id and start time) adds nothing. Staged rows are inserted in key order so
that concurrent writers of overlapping batches cannot deadlock. Daily partitions are created with
`tokentrail_ensure_partitions(day)` before the transaction, once per day per process (the cache is dropped if a
partition turns out to be missing, e.g. after retention pruned it).

Errors are split in two: `StoreUnavailable` (connection refused or lost, pool exhausted, server shutting down,
schema missing, lock/deadlock trouble that persisted) means "try again later" and must become a 503; rows the
database refuses as data (out of range values and the like, which normalisation should already prevent) are
isolated by writing span by span under savepoints and reported as rejected, never retried forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from tokentrail.db import dedup, migrate
from tokentrail.db.rows import Batch, BlobRow, LlmCallRow, SpanRow
from tokentrail.errors import StoreUnavailable

__all__ = ["Store", "StoreUnavailable", "WriteResult"]

log = logging.getLogger(__name__)

_STAGE = {
    "spans": "tt_stage_spans",
    "llm_calls": "tt_stage_llm_calls",
    "llm_call_reports": "tt_stage_reports",
    "content_blobs": "tt_stage_blobs",
}
_KEY = ("trace_id", "span_id", "start_time")
_DEADLOCK_RETRIES = 3
_STATEMENT_TIMEOUT = 60.0  # seconds
_LOCK_TIMEOUT = 15.0


# What Postgres (or psycopg, before sending) says about a row's data rather than about the server: the row is
# refused on its own and reported, never answered 503 (a retry would be refused again, for ever). Index rows over
# the btree limit are ProgramLimitExceeded; text that cannot be encoded fails in psycopg as a UnicodeError.
_DATA_ERRORS: tuple[type[Exception], ...] = (
    psycopg.errors.DataError,
    psycopg.errors.IntegrityError,
    psycopg.errors.ProgramLimitExceeded,
    UnicodeError,
)


def _reason(exc: Exception) -> str:
    """What Postgres said, or psycopg's own message for a refusal made before sending."""
    primary = exc.diag.message_primary if isinstance(exc, psycopg.Error) else None
    return primary or str(exc).strip() or type(exc).__name__


@dataclass
class WriteResult:
    """What one write did: rows newly inserted (duplicates of earlier writes are not counted) and rejections."""

    spans_inserted: int = 0
    llm_calls_inserted: int = 0
    blobs_inserted: int = 0
    blob_bytes_inserted: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)


def _copy_sql(table: str, columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(_STAGE[table]), sql.SQL(", ").join(map(sql.Identifier, columns))
    )


def _move_sql(table: str, columns: Sequence[str], key: Sequence[str]) -> sql.Composed:
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY {} ON CONFLICT DO NOTHING").format(
        sql.Identifier(table),
        names,
        names,
        sql.Identifier(_STAGE[table]),
        sql.SQL(", ").join(map(sql.Identifier, key)),
    )


_SPAN_COLUMNS = SpanRow._fields
_LLM_COLUMNS = LlmCallRow._fields
_BLOB_COLUMNS = BlobRow._fields
_STATEMENTS = {
    "content_blobs": (
        _copy_sql("content_blobs", _BLOB_COLUMNS),
        _move_sql("content_blobs", _BLOB_COLUMNS, ("sha256",)) + sql.SQL(" RETURNING bytes"),
    ),
    "spans": (_copy_sql("spans", _SPAN_COLUMNS), _move_sql("spans", _SPAN_COLUMNS, _KEY)),
    "llm_calls": (_copy_sql("llm_calls", _LLM_COLUMNS), _move_sql("llm_calls", _LLM_COLUMNS, _KEY)),
    "llm_call_reports": (
        _copy_sql("llm_call_reports", _LLM_COLUMNS),
        _move_sql("llm_call_reports", _LLM_COLUMNS, _KEY),
    ),
}
_DIRECT_COPY = {
    "spans": sql.SQL("COPY spans ({}) FROM STDIN").format(sql.SQL(", ").join(map(sql.Identifier, _SPAN_COLUMNS))),
    "llm_calls": sql.SQL("COPY llm_calls ({}) FROM STDIN").format(
        sql.SQL(", ").join(map(sql.Identifier, _LLM_COLUMNS))
    ),
}
_CREATE_STAGING = [
    sql.SQL("CREATE TEMPORARY TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS").format(
        sql.Identifier(stage), sql.Identifier(table)
    )
    for table, stage in _STAGE.items()
]


class Store:
    """Async writer over a psycopg connection pool. `open()` before use, `close()` after (or `async with`)."""

    def __init__(
        self,
        conninfo: str,
        *,
        pool_size: int = 4,
        connect_timeout: float = 5.0,
        acquire_timeout: float = 5.0,
    ) -> None:
        self.conninfo = conninfo
        self._acquire_timeout = acquire_timeout
        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            open=False,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(connect_timeout))},
            configure=self._configure,
            check=AsyncConnectionPool.check_connection,
            timeout=acquire_timeout,
            reconnect_timeout=3600.0,
            name="tokentrail-sink",
        )
        self._partitions: set[date] = set()
        self._opened = False
        self._partition_lock = asyncio.Lock()

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def open(self) -> None:
        """Start the pool without waiting for a connection: the sink must come up even while Postgres is down.
        Calling it again is a no-op."""
        if self._opened:
            return
        self._opened = True
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close()

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @staticmethod
    async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
        # A write stuck behind a lock or a sick server must end (as a 503 the client retries) rather than hold a
        # connection and an in-flight slot for ever.
        await conn.execute(f"SET statement_timeout = {int(_STATEMENT_TIMEOUT * 1000)}")
        await conn.execute(f"SET lock_timeout = {int(_LOCK_TIMEOUT * 1000)}")
        # Fails harmlessly (and is retried by the pool) until the schema exists.
        for statement in _CREATE_STAGING:
            await conn.execute(statement)

    # -- health -------------------------------------------------------------------------------------------
    async def ready(self, timeout: float | None = None) -> tuple[bool, str]:
        """(True, "ok") when Postgres answers and every shipped migration is applied, else (False, why)."""
        try:
            async with self._pool.connection(timeout=timeout or self._acquire_timeout) as conn:
                cur = await conn.execute(
                    sql.SQL("SELECT version FROM {}").format(sql.Identifier(migrate.MIGRATIONS_TABLE))
                )
                applied = {int(row[0]) for row in await cur.fetchall()}
        except (PoolTimeout, psycopg.Error) as exc:
            return False, f"database unavailable: {exc}".strip()
        missing = [m.name for m in migrate.available() if m.version not in applied]
        if missing:
            return False, "migrations not applied: " + ", ".join(missing)
        return True, "ok"

    def stats(self) -> dict[str, int]:
        return dict(self._pool.get_stats())

    # -- writes -------------------------------------------------------------------------------------------
    async def write(self, batch: Batch) -> WriteResult:
        """Store `batch` in one transaction and return after it committed. Raises `StoreUnavailable`."""
        if not batch.spans:
            return WriteResult()
        last: BaseException | None = None
        for attempt in range(_DEADLOCK_RETRIES):
            try:
                return await self._write_once(batch)
            except (
                psycopg.errors.DeadlockDetected,
                psycopg.errors.SerializationFailure,
                psycopg.errors.LockNotAvailable,
            ) as exc:
                last = exc
                log.warning("write attempt %d hit %s; retrying", attempt + 1, type(exc).__name__)
                await asyncio.sleep(0.05 * (attempt + 1))
            except psycopg.errors.CheckViolation as exc:
                # "no partition of relation found for row": a partition we believed in was dropped (retention).
                last = exc
                log.warning("a partition was missing (%s); re-creating", exc.diag.message_primary)
                self._partitions.clear()
            except psycopg.errors.ForeignKeyViolation as exc:
                # Retention deleted a content blob that this batch found present (ON CONFLICT DO NOTHING takes no
                # lock on it) before our llm_calls row referenced it: write the batch again, blob included.
                last = exc
                log.warning("a content blob vanished during the write (%s); retrying", exc.diag.message_primary)
            except (PoolTimeout, psycopg.Error) as exc:
                # Everything else Postgres can say is about the server or our connection, not this data (data
                # errors were isolated span by span in _write_once): a retry later is the right answer.
                raise StoreUnavailable(str(exc).strip() or type(exc).__name__) from exc
        raise StoreUnavailable(f"write failed after {_DEADLOCK_RETRIES} attempts: {last}") from last

    async def _write_once(self, batch: Batch) -> WriteResult:
        started = time.perf_counter()
        async with self._pool.connection(timeout=self._acquire_timeout) as conn:
            await self._ensure_partitions(conn, batch.days)
            try:
                async with conn.transaction():
                    result = await self._insert(conn, list(batch.blobs.values()), [], [])
                    route = await _Route.of(conn, batch.llm_calls)
                    rows = await self._insert_fresh(conn, batch.spans, route.calls)
                    result.spans_inserted, result.llm_calls_inserted = rows.spans_inserted, rows.llm_calls_inserted
                    result.llm_calls_inserted += await self._merge(conn, route, route.reports)
            except _DATA_ERRORS as exc:
                if isinstance(exc, psycopg.errors.ForeignKeyViolation) or (
                    isinstance(exc, psycopg.errors.CheckViolation) and "partition" in str(exc)
                ):
                    raise  # not the data's fault: write() retries the whole batch
                log.warning("batch of %d spans refused as data (%s); writing span by span", len(batch.spans), exc)
                result = await self._insert_one_by_one(conn, batch)
        log.debug("wrote %d spans in %.1f ms", len(batch.spans), (time.perf_counter() - started) * 1000)
        return result

    async def _insert_fresh(
        self, conn: psycopg.AsyncConnection[Any], spans: Sequence[SpanRow], llm_calls: Sequence[LlmCallRow]
    ) -> WriteResult:
        """The fast path: COPY straight into the tables under a savepoint, as a bulk load would. Nearly every batch
        is new; if any of its keys is already stored (a retry, or a span repeated in the batch), the savepoint is
        rolled back and the batch goes through the staging tables with ON CONFLICT DO NOTHING instead."""
        try:
            async with conn.transaction(), conn.cursor() as cur:
                for table, rows in (("spans", spans), ("llm_calls", llm_calls)):
                    if rows:
                        async with cur.copy(_DIRECT_COPY[table]) as copy:
                            for row in rows:
                                await copy.write_row(row)
        except psycopg.errors.UniqueViolation:
            return await self._insert(conn, [], spans, llm_calls)
        return WriteResult(spans_inserted=len(spans), llm_calls_inserted=len(llm_calls))

    async def _insert(
        self,
        conn: psycopg.AsyncConnection[Any],
        blobs: Sequence[BlobRow],
        spans: Sequence[SpanRow],
        llm_calls: Sequence[LlmCallRow],
        *,
        reports: Sequence[LlmCallRow] = (),
        clear_stage: bool = False,
    ) -> WriteResult:
        result = WriteResult()
        tables = (("content_blobs", blobs), ("spans", spans), ("llm_calls", llm_calls), ("llm_call_reports", reports))
        async with conn.cursor() as cur:
            for table, rows in tables:
                if not rows:
                    continue
                copy_stmt, move_stmt = _STATEMENTS[table]
                async with cur.copy(copy_stmt) as copy:
                    for row in rows:
                        await copy.write_row(row)
                await cur.execute(move_stmt)
                inserted = max(cur.rowcount, 0)
                if table == "spans":
                    result.spans_inserted = inserted
                elif table == "llm_calls":
                    result.llm_calls_inserted = inserted
                elif table == "content_blobs":
                    result.blobs_inserted = inserted
                    result.blob_bytes_inserted = sum(int(row[0]) for row in await cur.fetchall())
                if clear_stage:
                    # ON COMMIT DELETE ROWS empties the stage at commit (cheaply, without catalog churn); writes
                    # under savepoints reuse it before that, so they empty it themselves.
                    await cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(_STAGE[table])))
        return result

    async def _merge(self, conn: psycopg.AsyncConnection[Any], route: _Route, reports: Sequence[LlmCallRow]) -> int:
        """Store `reports` of the traces that several instrumentations report, and rebuild their calls."""
        if not route.merging or route.window is None:
            return 0
        await dedup.keep_single_rows(conn, route.merging, route.window)
        await self._insert(conn, [], [], [], reports=reports, clear_stage=True)
        return await dedup.recompute(conn, route.merging, route.window)

    async def _insert_one_by_one(self, conn: psycopg.AsyncConnection[Any], batch: Batch) -> WriteResult:
        llm_by_key = {(row.trace_id, row.span_id, row.start_time): row for row in batch.llm_calls}
        async with conn.transaction():
            route = await _Route.of(conn, batch.llm_calls)
            total = WriteResult()
            for blob in batch.blobs.values():  # content first (llm_calls rows reference it), each under a savepoint
                try:
                    async with conn.transaction():
                        one = await self._insert(conn, [blob], [], [], clear_stage=True)
                except _DATA_ERRORS as exc:
                    log.warning("content blob %s refused: %s", blob.sha256.hex(), _reason(exc))
                    continue
                total.blobs_inserted += one.blobs_inserted
                total.blob_bytes_inserted += one.blob_bytes_inserted
            for span in batch.spans:
                llm = llm_by_key.get((span.trace_id, span.span_id, span.start_time))
                merged = llm is not None and llm.trace_id in route.merging
                calls = [llm] if llm is not None and not merged else []
                reports = [llm] if llm is not None and merged else []
                try:
                    async with conn.transaction():  # a savepoint
                        one = await self._insert(conn, [], [span], calls, reports=reports, clear_stage=True)
                except _DATA_ERRORS as exc:
                    total.rejected += 1
                    if len(total.reasons) < 5:
                        total.reasons.append(f"span {span.trace_id}/{span.span_id}: {_reason(exc)}")
                    continue
                total.spans_inserted += one.spans_inserted
                total.llm_calls_inserted += one.llm_calls_inserted
            total.llm_calls_inserted += await self._merge(conn, route, [])
        return total

    async def _ensure_partitions(self, conn: psycopg.AsyncConnection[Any], days: set[date]) -> None:
        missing = days - self._partitions
        if not missing:
            return
        async with self._partition_lock:
            for day in sorted(missing - self._partitions):
                for attempt in range(2):
                    try:
                        await conn.execute("SELECT tokentrail_ensure_partitions(%s)", (day,))
                        break
                    except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
                        if attempt:  # another sink created it at the same moment: it exists now
                            break
                self._partitions.add(day)


@dataclass
class _Route:
    """Where a batch's LLM rows go: `calls` straight into `llm_calls`; `reports` (of the traces in `merging`, which
    several instrumentations report) into `llm_call_reports`, their calls rebuilt from there (`dedup`)."""

    calls: Sequence[LlmCallRow]
    reports: Sequence[LlmCallRow] = ()
    merging: set[str] = field(default_factory=set)
    window: dedup.Window | None = None

    @classmethod
    async def of(cls, conn: psycopg.AsyncConnection[Any], rows: Sequence[LlmCallRow]) -> _Route:
        if not rows:
            return cls(rows)
        await dedup.lock_traces(conn, (row.trace_id for row in rows))
        window = dedup.window_of(rows)
        merging = await dedup.traces_to_merge(conn, rows, window)
        if not merging:
            return cls(rows)
        calls = [row for row in rows if row.trace_id not in merging]
        return cls(calls, [row for row in rows if row.trace_id in merging], merging, window)
