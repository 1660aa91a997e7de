"""Calls: every `CallFilter` field as a query parameter, sortable, paginated; the filtered rows exported as CSV
or JSONL, streamed from a server-side cursor (`reports.export.export_calls`).

Paging: `page=N` reads by OFFSET (old links keep working); the pager's links carry a keyset cursor
(`after=` / `before=`, `tokentrail.reports.paging`) with the page number as a label, so every next or previous
page seeks an index however deep it is. The count is exact up to `COUNT_BOUND` calls and "more than" beyond.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from tokentrail.reports import queries
from tokentrail.reports.calllist import CallPage, call_page
from tokentrail.reports.export import export_calls
from tokentrail.reports.paging import COUNT_BOUND, Cursor, cursor_at
from tokentrail.reports.render import plain
from tokentrail.ui import params
from tokentrail.ui.pages.common import connection, selection
from tokentrail.ui.render import page, query

__all__ = ["ROUTES"]

SORTABLE: Final = (("time", "Time"), ("tokens", "Tokens"), ("cost", "Cost"), ("latency", "Latency"))
# A CSV cell a spreadsheet would read as a formula gets a leading quote (content is hostile input).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Pager:
    """Where a page of calls sits: its number (a label once paging by cursor), the bounded total, the links."""

    number: int
    total: int
    exact: bool
    """`total` is the exact count; otherwise there are more than `COUNT_BOUND` calls."""
    pages: int | None
    """How many pages there are, when the count is exact."""
    prev: str | None
    next: str | None


def _pager(request: Request, found: CallPage, *, size: int, sort: str, cursor: Cursor | None,
           number: int) -> tuple[list[queries.CallRow], Pager]:  # fmt: skip
    """The page's rows (the one extra row read to see whether more follow left out) and its pager."""
    current = request.query_params
    rows = found.rows
    more = len(rows) > size
    if cursor is not None and cursor.before:
        rows, has_prev, has_next = rows[1:] if more else rows, more, True
    else:
        rows, has_prev, has_next = rows[:size], number > 1 or cursor is not None, more
    prev = nxt = None
    if has_prev and rows:
        back = cursor_at(sort, rows[0], before=True).text
        prev = query(current) if number <= 2 else query(current, before=back, page=number - 1)
    if has_next and rows:
        nxt = query(current, after=cursor_at(sort, rows[-1]).text, page=number + 1)
    pages = max((found.total + size - 1) // size, 1) if found.exact else None
    return rows, Pager(number, found.total, found.exact, pages, prev, nxt)


def calls_page(request: Request) -> Response:
    window, where = selection(request)
    sort = params.sort(request.query_params)
    one_page = params.page(request.query_params, where)
    cursor = params.cursor(request.query_params, sort)
    size = one_page.limit
    with connection(request) as conn:
        found = call_page(conn, one_page, sort, cursor)
    number = one_page.offset // size + 1
    rows, pager = _pager(request, found, size=size, sort=sort, cursor=cursor, number=number)
    return page(
        request,
        "calls.html",
        active="calls",
        window=window,
        rows=rows,
        pager=pager,
        bound=COUNT_BOUND,
        size=size,
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
