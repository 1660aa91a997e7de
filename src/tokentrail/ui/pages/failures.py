"""Failures: errors over time by type and by model, and each error type with its models and latest calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tokentrail.reports import queries, rollup
from tokentrail.reports.callfilter import CallFilter
from tokentrail.reports.queries import Connection
from tokentrail.reports.series import bucket_starts
from tokentrail.ui import charts
from tokentrail.ui.pages.common import reads, refresh_seconds, selection, stack
from tokentrail.ui.render import num, page

__all__ = ["ROUTES"]

LATEST: Final = 5
MAX_GROUPS: Final = 20
OTHER_ERRORS: Final = "_OTHER"
"""The error-type grouping's key for a failed call without an error type."""


@dataclass(frozen=True)
class ErrorGroup:
    stats: rollup.Totals
    models: list[rollup.Totals]
    latest: list[queries.CallRow]


def _models(where: CallFilter) -> Callable[[Connection], list[rollup.Totals]]:
    return lambda c: rollup.totals(c, where, "model")


def _latest(where: CallFilter) -> Callable[[Connection], list[queries.CallRow]]:
    return lambda c: queries.calls(c, replace(where, limit=LATEST, offset=0))


def failures(request: Request) -> Response:
    window, where = selection(request)
    failed = replace(where, status="error")
    bucket = window.bucket
    with reads(request) as read:  # side by side, each on its own connection
        every = read(lambda c: rollup.totals(c, where))
        types_series = read(lambda c: rollup.series(c, failed, bucket, "error-type", origin=rollup.EPOCH))
        models_series = read(lambda c: rollup.series(c, failed, bucket, "model", origin=rollup.EPOCH))
        top_types = read(lambda c: rollup.totals(c, failed, "error-type", limit=MAX_GROUPS))
        pending = []
        for row in top_types.result():
            one = failed if row.key in (None, OTHER_ERRORS) else replace(failed, error_type=row.key)
            pending.append((row, read(_models(one)), read(_latest(one)) if row.key != OTHER_ERRORS else None))
    groups = [ErrorGroup(row, models.result(), latest.result() if latest else []) for row, models, latest in pending]
    totals, by_type, by_model = every.result(), types_series.result(), models_series.result()
    starts = bucket_starts(window.since, window.until, bucket, rollup.EPOCH)
    labels = charts.time_labels(starts, window.until - window.since > timedelta(days=1))
    count = num
    return page(
        request,
        "failures.html",
        active="failures",
        window=window,
        refresh=refresh_seconds(request, window),
        total=totals[0] if totals else None,
        groups=groups,
        type_chart=charts.stacked_bars(
            "Errors over time by type", labels, stack(by_type, starts, lambda p: float(p.calls)), count
        ),
        model_chart=charts.stacked_bars(
            "Errors over time by model", labels, stack(by_model, starts, lambda p: float(p.calls)), count
        ),
    )


ROUTES: list[BaseRoute] = [Route("/failures", failures)]
