"""Failures: errors over time by type and by model, and each error type with its models and latest calls."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tokentrail.reports import queries
from tokentrail.reports.series import bucket_starts, series
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
    stats: queries.StatsRow
    models: list[queries.StatsRow]
    latest: list[queries.CallRow]


def failures(request: Request) -> Response:
    window, where = selection(request)
    failed = replace(where, status="error")
    bucket = window.bucket
    groups = []
    with connection(request) as conn:
        totals = queries.stats(conn, where)
        by_type = series(conn, failed, bucket, "error-type")
        by_model = series(conn, failed, bucket, "model")
        for row in queries.stats(conn, failed, "error-type")[:MAX_GROUPS]:
            one = failed if row.key in (None, OTHER_ERRORS) else replace(failed, error_type=row.key)
            models = queries.stats(conn, one, "model")
            latest = queries.calls(conn, replace(one, limit=LATEST, offset=0)) if row.key != OTHER_ERRORS else []
            groups.append(ErrorGroup(row, models, latest))
    starts = bucket_starts(window.since, window.until, bucket)
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
