"""Failures: errors over time by type and by model, and each error type with its models and latest calls."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tokentrail.reports import queries, rollup
from tokentrail.reports.series import bucket_starts
from tokentrail.ui import charts
from tokentrail.ui.pages.common import connection, refresh_seconds, selection, stack
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


def failures(request: Request) -> Response:
    window, where = selection(request)
    failed = replace(where, status="error")
    bucket = window.bucket
    groups = []
    with connection(request) as conn:
        totals = rollup.totals(conn, where)
        by_type = rollup.series(conn, failed, bucket, "error-type", origin=rollup.EPOCH)
        by_model = rollup.series(conn, failed, bucket, "model", origin=rollup.EPOCH)
        for row in rollup.totals(conn, failed, "error-type", limit=MAX_GROUPS):
            one = failed if row.key in (None, OTHER_ERRORS) else replace(failed, error_type=row.key)
            models = rollup.totals(conn, one, "model")
            latest = queries.calls(conn, replace(one, limit=LATEST, offset=0)) if row.key != OTHER_ERRORS else []
            groups.append(ErrorGroup(row, models, latest))
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
