"""The ingest pipeline both transports share: admission (token, readiness, breaker, slots, receive budget),
decode -> normalise -> store, metrics, and the transport-neutral `ExportOutcome`.

A fully received request takes one of `max_inflight` processing slots (HTTP and gRPC together); with none free
the answer is 503 + `Retry-After`. After a write failed for lack of the database, requests are turned away with
503 for a short moment instead of each waiting for a connection (a small circuit breaker); the collector's queue
holds them. A database problem or a fault of the sink itself is never answered 500: the collector drops data on
500 and retries 503.

Knows no transport: `tokentrail.sink.http` and `tokentrail.sink.grpc` turn an `ExportOutcome` into an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tokentrail.db import migrate
from tokentrail.db.rows import Batch
from tokentrail.db.store import Store, StoreUnavailable
from tokentrail.errors import ReceiveBudgetExhausted
from tokentrail.sink.config import SinkConfig
from tokentrail.sink.decode import Format, RequestError
from tokentrail.sink.metrics import SinkMetrics
from tokentrail.sink.normalise import Normaliser
from tokentrail.sink.spans import Extracted, extract_spans

__all__ = ["ExportOutcome", "Sink"]

log = logging.getLogger(__name__)


@dataclass
class ExportOutcome:
    """The transport-neutral answer to one export request."""

    status: int  # HTTP status; the gRPC servicer maps it to a status code
    message: str = ""
    rejected: int = 0
    retry_after: int | None = None
    format: Format | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


class Sink:
    """The ingest pipeline shared by both transports: admission, decode, normalise, store, metrics."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.metrics = SinkMetrics()
        self.store = Store(config.database_url, pool_size=config.pool_size, acquire_timeout=config.acquire_timeout)
        self._normaliser: Normaliser | None = None
        self._inflight = 0
        self._receiving_bytes = 0
        self._receive_budget = config.receive_budget_bytes or config.max_inflight * config.max_body_bytes
        self._ready = False
        self._down_until = 0.0
        self._prepare_task: asyncio.Task[None] | None = None
        self._token = config.token.encode() if config.token else None

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._normaliser = await asyncio.to_thread(_make_normaliser)
        self._prepare_task = asyncio.create_task(self._prepare(), name="tokentrail-sink-prepare")

    async def stop(self) -> None:
        if self._prepare_task is not None:
            self._prepare_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prepare_task
        await self.store.close()

    async def _prepare(self) -> None:
        """Apply migrations (or, with migrate off, wait for them), retrying while Postgres is not there yet."""
        delay = 0.5
        while True:
            try:
                if self.config.migrate:
                    applied = await asyncio.to_thread(migrate.upgrade, self.config.database_url)
                    if applied:
                        log.info("applied migrations %s", applied)
                # The pool opens once the schema is there: its connections prepare staging tables from it.
                await self.store.open()
                ready, why = await self.store.ready()
                if ready:
                    self._set_ready(True)
                    return
                log.warning("database not ready: %s", why)
            except Exception as exc:
                log.warning("database not ready (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _set_ready(self, ready: bool) -> None:
        self._ready = ready
        self.metrics.ready.set(1 if ready else 0)

    async def readiness(self) -> tuple[bool, str]:
        if not self._ready:
            return False, "migrations not applied yet (or database unreachable)"
        # short: a readiness probe must answer within its own timeout (often 1 s) even while Postgres is away
        ready, why = await self.store.ready(timeout=min(self.config.acquire_timeout, 0.8))
        self.metrics.ready.set(1 if ready else 0)
        return ready, why

    # -- admission ----------------------------------------------------------------------------------------
    def authorised(self, authorization: Sequence[str]) -> bool:
        """Whether the `authorization` values of a request (all of them: HTTP header or gRPC metadata) carry the
        token. More than one value is refused, so that no transport has to pick one."""
        if self._token is None:
            return True
        if len(authorization) != 1:
            return False
        scheme, _, credential = authorization[0].partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credential.strip().encode(), self._token)

    def refusal(self) -> ExportOutcome | None:
        """A 503 outcome if the sink cannot take a request now (not ready, database just failed, saturated)."""
        if not self._ready:
            return ExportOutcome(503, "database not ready", retry_after=self.config.retry_after_unavailable)
        if time.monotonic() < self._down_until:
            return ExportOutcome(503, "database unavailable", retry_after=self.config.retry_after_unavailable)
        if self._inflight >= self.config.max_inflight:
            return ExportOutcome(503, "sink saturated", retry_after=self.config.retry_after_busy)
        return None

    def reserve_receive(self, size: int) -> None:
        """Count `size` more bytes of bodies being received (all requests together); `ReceiveBudgetExhausted` when
        that would pass the receive budget. A stalled client so holds the bytes it sent, never a processing slot."""
        if self._receiving_bytes + size > self._receive_budget:
            raise ReceiveBudgetExhausted("sink saturated")
        self._receiving_bytes += size

    def release_receive(self, size: int) -> None:
        """Give back bytes counted by `reserve_receive` (the body was received, refused or abandoned)."""
        self._receiving_bytes -= size

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        self._inflight += 1
        self.metrics.inflight.inc()
        try:
            yield
        finally:
            self._inflight -= 1
            self.metrics.inflight.dec()

    # -- the pipeline -------------------------------------------------------------------------------------
    async def ingest(self, parse: Callable[[], ExportTraceServiceRequest], fmt: Format | None) -> ExportOutcome:
        """Decode (in a worker thread: CPU-bound), normalise, write; the outcome is final only after commit."""
        normaliser = self._normaliser
        assert normaliser is not None, "Sink.start() was not awaited"

        def work() -> tuple[Extracted, Batch]:
            extracted = extract_spans(parse())
            return extracted, normaliser.batch(extracted.spans)

        try:
            extracted, batch = await asyncio.to_thread(work)
        except RequestError as exc:
            return ExportOutcome(exc.status, exc.message, format=fmt)
        except Exception:
            return self._internal_fault("decoding", fmt)
        self.metrics.spans_received.inc(len(extracted.spans) + extracted.rejected)
        started = time.perf_counter()
        try:
            result = await self.store.write(batch)
        except StoreUnavailable as exc:
            log.warning("database unavailable, answering 503: %s", exc)
            self._down_until = time.monotonic() + self.config.breaker_seconds
            self.metrics.ready.set(0)
            return ExportOutcome(
                503, "database unavailable", retry_after=self.config.retry_after_unavailable, format=fmt
            )
        except Exception:
            return self._internal_fault("writing", fmt)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        self.metrics.ready.set(1)
        stored_or_duplicate = len(batch.spans) - result.rejected
        self.metrics.spans_stored.inc(result.spans_inserted)
        self.metrics.spans_duplicate.inc(max(stored_or_duplicate - result.spans_inserted, 0))
        self.metrics.llm_calls_stored.inc(result.llm_calls_inserted)
        self.metrics.content_bytes.labels("distinct_in_batch").inc(batch.content_bytes)
        self.metrics.content_bytes.labels("stored_new").inc(result.blob_bytes_inserted)
        rejected = extracted.rejected + result.rejected
        self.metrics.spans_rejected.inc(rejected)
        messages = [m for m in (extracted.error_message, "; ".join(result.reasons), batch.warning_message) if m]
        return ExportOutcome(200, " | ".join(messages), rejected=rejected, format=fmt)

    def _internal_fault(self, stage: str, fmt: Format | None) -> ExportOutcome:
        """A fault of the sink itself (a bug: not the data, not the database). Answered 503, never 500: the
        collector drops a batch answered 500 at once, while a 503 is retried (within its own retry limit), which
        leaves a chance to store it after a restart or a fix. The traceback is logged."""
        log.exception("internal error while %s an export request; answering 503", stage)
        return ExportOutcome(
            503, f"internal error while {stage}", retry_after=self.config.retry_after_unavailable, format=fmt
        )


def _make_normaliser() -> Normaliser:
    try:
        from tokentrail.pricing import default_pricebook

        return Normaliser(default_pricebook())
    except Exception:
        log.exception("pricing unavailable: LLM spans without a cost stay without one")
        return Normaliser(None)
