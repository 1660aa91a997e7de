"""Metric points recorded off the caller's thread.

Recording a histogram point through the OpenTelemetry Python SDK is costly (the SDK cleans, sorts and hashes the
attribute set on every record; docs/benchmarks.md has the figure), and a call records four or five. So the call's
thread only appends one tuple to a deque, and the points are recorded:

- by a daemon thread, woken when more than `DRAIN_AT` points are waiting, and every `IDLE_DRAIN` seconds
  otherwise: it bounds the queue without waking a quiet process several times a second (a point only has to be
  recorded before the next collection, which drains the queue itself);
- at every metric collection, before the reader reads the instruments: the pump registers an observable
  instrument whose callback drains the queue (the SDK runs callbacks first, then collects), so an export, a
  `force_flush` or an in-memory reader always sees every call that ended before it;
- on `flush()` (uninstrument) and at interpreter exit (an `atexit` hook registered after the one that shuts the
  provider down, tokentrail's or the SDK's, so it runs first).

The total CPU spent is the same; it leaves the caller's path. Exemplars are not linked to the call's trace
(the points are recorded outside its context). Pending points are bounded: past `MAX_PENDING` a point is
dropped and counted, never blocking or growing without limit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Meter, Observation

__all__ = ["DRAIN_AT", "IDLE_DRAIN", "MAX_PENDING", "MetricPump"]

log = logging.getLogger(__name__)

DRAIN_AT = 1024
"""A point submitted while this many wait wakes the background drain."""
IDLE_DRAIN = 10.0
"""Seconds between background drains when fewer than `DRAIN_AT` points arrive."""
MAX_PENDING = 100_000
"""Points waiting at most; more are dropped (and counted in `MetricPump.dropped`)."""

FLUSH_INSTRUMENT = "tokentrail.internal.metric_flush"
"""The observable instrument whose callback drains the queue at collection; it never reports a value."""

_pumps: weakref.WeakSet[MetricPump] = weakref.WeakSet()
_pumps_lock = threading.Lock()
_thread: threading.Thread | None = None
_wake = threading.Event()
_exit_hook_registered = False


class MetricPump:
    """A queue of metric points of one meter, recorded by `record(point)` off the caller's thread."""

    __slots__ = ("__weakref__", "_drain_lock", "_points", "_record", "dropped")

    def __init__(self, meter: Meter, record: Callable[[Any], None]) -> None:
        self._points: deque[Any] = deque()
        self._record = record
        self._drain_lock = threading.Lock()
        self.dropped = 0
        meter.create_observable_gauge(FLUSH_INSTRUMENT, callbacks=[self._on_collect])
        with _pumps_lock:
            _pumps.add(self)
        _ensure_thread()

    def submit(self, point: Any) -> None:
        """Queue one point (called on the caller's thread: O(1), never blocks, never raises)."""
        points = self._points
        waiting = len(points)
        if waiting < MAX_PENDING:
            points.append(point)
            if waiting >= DRAIN_AT and not _wake.is_set():
                _wake.set()
        else:
            self.dropped += 1

    def flush(self) -> None:
        """Record every queued point now."""
        with self._drain_lock:
            popleft = self._points.popleft
            record = self._record
            while True:
                try:
                    point = popleft()
                except IndexError:
                    return
                try:
                    record(point)
                except Exception:
                    log.debug("tokentrail: could not record a metric point", exc_info=True)

    def close(self) -> None:
        """Flush and stop draining this pump in the background."""
        self.flush()
        with _pumps_lock:
            _pumps.discard(self)

    def _on_collect(self, options: CallbackOptions) -> Iterable[Observation]:
        self.flush()
        return ()


def _drain_all() -> None:
    with _pumps_lock:
        pumps = list(_pumps)
    for pump in pumps:
        pump.flush()


def _run() -> None:
    while True:
        _wake.wait(IDLE_DRAIN)
        _wake.clear()
        try:
            _drain_all()
        except Exception:  # pragma: no cover - flush already guards each point
            log.debug("tokentrail: metric drain failed", exc_info=True)


def _ensure_thread() -> None:
    global _thread, _exit_hook_registered
    with _pumps_lock:
        if not _exit_hook_registered:
            # Registered when the first pump is made, after its meter provider and the exit hook that shuts it
            # down (tokentrail's or the SDK's) exist: atexit runs hooks last-in first-out, so the queue is drained
            # before the provider shuts down and exports.
            atexit.register(_drain_all)
            _exit_hook_registered = True
        if _thread is not None and _thread.is_alive():
            return
        _thread = threading.Thread(target=_run, name="tokentrail-metrics", daemon=True)
        _thread.start()


def _after_fork_in_child() -> None:
    """The drain thread does not survive fork, and a lock it held would stay held: start both anew."""
    global _thread, _pumps_lock, _wake
    _pumps_lock = threading.Lock()
    _wake = threading.Event()
    _thread = None
    for pump in list(_pumps):
        pump._drain_lock = threading.Lock()
    if len(_pumps):
        _ensure_thread()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
