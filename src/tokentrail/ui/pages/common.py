"""What every page does first: take a read-only connection, read the time range and the call filter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.requests import Request

from tokentrail.reports.callfilter import CallFilter
from tokentrail.ui import params
from tokentrail.ui.params import TimeRange

__all__ = ["connection", "refresh_seconds", "selection"]


@contextmanager
def connection(request: Request) -> Iterator[Any]:
    """A pooled read-only connection for the length of the block."""
    with request.app.state.pool.connection() as conn:
        yield conn


def selection(request: Request) -> tuple[TimeRange, CallFilter]:
    """The page's time range and the `CallFilter` its query string asks for."""
    window = params.time_range(request.query_params)
    multi = {"attr": request.query_params.getlist("attr")}
    return window, params.call_filter(request.query_params, window, multi)


def refresh_seconds(request: Request, window: TimeRange) -> int | None:
    """How often the page reloads itself: the configured period over a preset range, never over a custom one."""
    period: int = request.app.state.settings.refresh_seconds
    return period if window.preset is not None and period > 0 else None
