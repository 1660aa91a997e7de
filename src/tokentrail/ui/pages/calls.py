"""Calls: every `CallFilter` field as a query parameter, sortable, paginated; the filtered rows exported as CSV
or JSONL, streamed from a server-side cursor (`reports.export.export_calls`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from tokentrail.reports import queries
from tokentrail.reports.export import export_calls
from tokentrail.reports.render import plain
from tokentrail.ui import params
from tokentrail.ui.pages.common import connection, selection
from tokentrail.ui.render import page

__all__ = ["ROUTES"]

SORTABLE: Final = (("time", "Time"), ("tokens", "Tokens"), ("cost", "Cost"), ("latency", "Latency"))
# A CSV cell a spreadsheet would read as a formula gets a leading quote (content is hostile input).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def calls_page(request: Request) -> Response:
    window, where = selection(request)
    sort = params.sort(request.query_params)
    one_page = params.page(request.query_params, where)
    with connection(request) as conn:
        rows = queries.calls(conn, one_page, sort)
        total = queries.count_calls(conn, where)
    number = one_page.offset // one_page.limit + 1
    pages = max((total + one_page.limit - 1) // one_page.limit, 1)
    return page(
        request,
        "calls.html",
        active="calls",
        window=window,
        rows=rows,
        total=total,
        number=number,
        pages=pages,
        size=one_page.limit,
        sort=sort,
        sortable=SORTABLE,
        page_sizes=params.PAGE_SIZES,
        filter_names=params.FILTER_NAMES,
        attrs=request.query_params.getlist("attr"),
    )


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    value = plain(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer: Any = None
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(row), lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
        writer.writerow({key: _cell(value) for key, value in row.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _jsonl_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps({k: plain(v) for k, v in row.items()}, default=str, ensure_ascii=False) + "\n"


def export(request: Request) -> Response:
    fmt = request.path_params["fmt"]
    if fmt not in ("csv", "jsonl"):
        raise params.BadParameter("format", f"{fmt!r} is not csv or jsonl")
    _, where = selection(request)
    sort = params.sort(request.query_params)
    with_content = request.query_params.get("content") == "yes"
    lines = _csv_lines if fmt == "csv" else _jsonl_lines

    def body() -> Iterator[str]:
        with connection(request) as conn:
            yield from lines(export_calls(conn, where, with_content=with_content, sort=sort))

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(
        body(),
        media_type=media,
        headers={"content-disposition": f'attachment; filename="tokentrail-calls-{stamp}.{fmt}"'},
    )


ROUTES: list[BaseRoute] = [
    Route("/calls", calls_page),
    Route("/calls/export.{fmt:str}", export),
]
