"""What every page does first: take a read-only connection, read the time range and the call filter."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol, TypeVar

from starlette.requests import Request

from tokentrail.reports.callfilter import CallFilter, resolve_search
from tokentrail.ui import params
from tokentrail.ui.charts import Series
from tokentrail.ui.params import TimeRange

__all__ = ["NONE", "OTHER", "Reads", "connection", "label", "reads", "refresh_seconds", "selection", "stack"]

T = TypeVar("T")


@contextmanager
def connection(request: Request) -> Iterator[Any]:
    """A pooled read-only connection for the length of the block."""
    with request.app.state.pool.connection() as conn:
        yield conn


class Reads:
    """Starts a page's independent queries side by side, each on its own pooled connection (`reads`)."""

    def __init__(self, request: Request) -> None:
        self._pool = request.app.state.pool
        self._executor = request.app.state.reads
        self._started: list[Future[Any]] = []

    def __call__(self, read: Callable[[Any], T]) -> Future[T]:
        """Run `read(connection)` on a worker; `.result()` waits for it (and raises what it raised)."""
        future: Future[T] = self._executor.submit(self._run, read)
        self._started.append(future)
        return future

    def _run(self, read: Callable[[Any], T]) -> T:
        with self._pool.connection() as conn:
            return read(conn)

    def wait(self) -> BaseException | None:
        """Wait for every query started; the first failure (in the order they were started), if any."""
        failure: BaseException | None = None
        for future in self._started:
            error = future.exception()
            if error is not None and failure is None:
                failure = error
        return failure


@contextmanager
def reads(request: Request) -> Iterator[Reads]:
    """Queries started in the block run side by side on the UI's query workers (`app.state.reads`), each on its own
    connection: a page's time is then about its slowest query, not their sum. The block ends when all have ended.

    The request's thread holds no connection while it waits, so a busy pool makes queries wait for a connection
    (up to the pool's timeout), never a deadlock. Every query runs in its own autocommit transaction as before."""
    started = Reads(request)
    try:
        yield started
    except BaseException:
        started.wait()  # the block's own error is the one to report
        raise
    failure = started.wait()
    if failure is not None:
        raise failure


def selection(request: Request) -> tuple[TimeRange, CallFilter]:
    """The page's time range and the `CallFilter` its query string asks for."""
    window = params.time_range(request.query_params)
    multi = {"attr": request.query_params.getlist("attr")}
    where = params.call_filter(request.query_params, window, multi)
    if where.search is not None:  # looked up once, for every query of the page
        with connection(request) as conn:
            where = resolve_search(conn, where)
    return window, where


def refresh_seconds(request: Request, window: TimeRange) -> int | None:
    """How often the page reloads itself: the configured period over a preset range, never over a custom one."""
    period: int = request.app.state.settings.refresh_seconds
    return period if window.preset is not None and period > 0 else None


class _Point(Protocol):
    @property
    def bucket(self) -> datetime | None: ...
    @property
    def key(self) -> str | None: ...


OTHER = "(other)"
NONE = "(none)"


def stack(
    points: Sequence[_Point], starts: Sequence[datetime], value: Callable[[Any], float], top: int = 6
) -> list[Series]:
    """Chart series from `series` points: one per key, the `top` largest by total kept and the rest summed as
    "(other)"; a bucket without a point is zero."""
    totals: dict[str | None, float] = {}
    for point in points:
        totals[point.key] = totals.get(point.key, 0.0) + value(point)
    ranked = sorted(totals, key=lambda k: (-totals[k], k or ""))
    kept = set(ranked[:top])
    index: dict[datetime | None, int] = {start: i for i, start in enumerate(starts)}
    names = [k for k in ranked if k in kept]
    values: dict[str, list[float]] = {}
    for key in [*names, OTHER]:
        values[label(key) if key != OTHER else OTHER] = [0.0] * len(starts)
    for point in points:
        i = index.get(point.bucket)
        if i is None:
            continue
        name = label(point.key) if point.key in kept else OTHER
        values[name][i] += value(point)
    return [Series(name, row) for name, row in values.items() if any(row)]


def label(key: str | None) -> str:
    return NONE if key is None else key
