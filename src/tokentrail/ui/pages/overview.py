"""Overview: cost over time stacked by a chosen grouping, calls and error rate over time, latency and time to first
chunk by model, prompt-cache use and savings, and the top users and app ids by cost."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tokentrail.reports import rollup, rollupstats
from tokentrail.reports.cache import cache_rows
from tokentrail.reports.rollupsql import NAMES
from tokentrail.reports.series import bucket_starts
from tokentrail.ui import charts, params
from tokentrail.ui.pages.common import OTHER, connection, label, reads, refresh_seconds, selection, stack
from tokentrail.ui.render import money, ms, num, pct

__all__ = ["BY_CHOICES", "ROUTES"]

BY_CHOICES: Final = ("model", "user", "service", "prompt-version", "workflow", "call-type", "tag")
TOP: Final = 10
STACKED: Final = 6
"""Groups a stacked chart shows, the rest summed as (other) (`common.stack`'s default)."""
CHART_SUMS: Final = ("calls", "cost_usd")
"""What the top-N charts read: cost, and calls to order ties."""


def overview(request: Request) -> Response:
    from tokentrail.ui.render import page

    window, where = selection(request)
    by = params.grouping(request.query_params, default="model", allowed=BY_CHOICES)
    app_attr = params.attr_key(request.query_params, "app_attr", "company_id")
    bucket = window.bucket
    with reads(request) as read:  # side by side, each on its own connection
        # One series by model with every sum: the model table's totals, the calls chart and (by model) the cost
        # chart all come from it.
        model_series = read(lambda c: rollup.series(c, where, bucket, "model", origin=rollup.EPOCH, names=NAMES))
        histograms = read(lambda c: rollupstats.histograms(c, where, "model"))
        top_users = read(lambda c: rollup.totals(c, where, "user", limit=TOP, names=CHART_SUMS))
        top_apps = read(lambda c: rollup.totals(c, where, f"attr:{app_attr}", limit=TOP, names=CHART_SUMS))
        if by == "user":  # many groups: the chart's top users (once known), and the rest as one
            keys = [r.key for r in top_users.result()[:STACKED]]
            by_series = read(lambda c: rollup.series(c, where, bucket, by, origin=rollup.EPOCH, keys=keys))
        elif by != "model":
            by_series = read(lambda c: rollup.series(c, where, bucket, by, origin=rollup.EPOCH))
    model_points = model_series.result()
    by_model, total = rollupstats.stats_from(rollup.totals_of(model_points), histograms.result())
    users, apps = top_users.result(), top_apps.result()
    # Every call is in exactly one model: the calls over time are the models' sum.
    call_points = rollup.collapse(model_points)
    if by == "model":
        cost_points = model_points
    elif by == "user":
        top = by_series.result()
        cost_points = top + rollup.remainder(call_points, top, OTHER)
    else:
        cost_points = by_series.result()
    cache = cache_rows(by_model)
    starts = bucket_starts(window.since, window.until, bucket, rollup.EPOCH)
    labels = charts.time_labels(starts, window.until - window.since > timedelta(days=1))
    by_bucket = {p.bucket: p for p in call_points}
    counts = [(by_bucket[s].calls, by_bucket[s].errors) if s in by_bucket else (0, 0) for s in starts]
    calls_chart = charts.stacked_bars(
        "Calls over time",
        labels,
        [
            charts.Series("ok", [float(n - e) for n, e in counts]),
            charts.Series("error", [float(e) for _, e in counts]),
        ],
        num,
    )
    rates = [e / n if n else 0.0 for n, e in counts]
    saved = [row.saved_usd for row in cache if row.saved_usd is not None]
    return page(
        request,
        "overview.html",
        active="overview",
        window=window,
        refresh=refresh_seconds(request, window),
        total=total,
        by=by,
        by_choices=BY_CHOICES,
        app_attr=app_attr,
        cost_chart=charts.stacked_bars(
            f"Cost over time by {by}",
            labels,
            stack(cost_points, starts, lambda p: float(p.cost_usd), top=STACKED),
            money,
        ),
        calls_chart=calls_chart,
        error_chart=charts.lines("Error rate over time", labels, [charts.Series("error rate", rates)], pct),
        latency_chart=charts.hbars(
            "p95 latency by model", [(label(r.key), r.latency_p95_ms) for r in by_model[:TOP]], ms
        ),
        by_model=by_model,
        cache=cache,
        saved_total=sum(saved) if saved else None,
        users_chart=charts.hbars("Top users by cost", [(label(r.key), float(r.cost_usd)) for r in users], money),
        apps_chart=charts.hbars(f"Top {app_attr} by cost", [(label(r.key), float(r.cost_usd)) for r in apps], money),
    )


def healthz(request: Request) -> Response:
    with connection(request) as conn:
        conn.execute("SELECT 1")
    return PlainTextResponse("ok\n")


ROUTES: list[BaseRoute] = [Route("/", overview), Route("/healthz", healthz)]
