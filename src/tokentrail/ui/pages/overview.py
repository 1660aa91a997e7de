"""Overview: totals over the selected range (the charts come with the read layer's series)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tokentrail.reports import queries
from tokentrail.ui.pages.common import connection, refresh_seconds, selection
from tokentrail.ui.render import page

__all__ = ["ROUTES"]


def overview(request: Request) -> Response:
    window, where = selection(request)
    with connection(request) as conn:
        totals = queries.stats(conn, where)
    return page(
        request,
        "overview.html",
        active="overview",
        window=window,
        refresh=refresh_seconds(request, window),
        total=totals[0] if totals else None,
    )


def healthz(request: Request) -> Response:
    with connection(request) as conn:
        conn.execute("SELECT 1")
    return PlainTextResponse("ok\n")


ROUTES: list[BaseRoute] = [Route("/", overview), Route("/healthz", healthz)]
