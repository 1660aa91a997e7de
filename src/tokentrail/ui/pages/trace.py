"""Trace: the waterfall of every span of one trace, its totals, and (with `?span=<id>`) one LLM call in full."""

from __future__ import annotations

import re
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tokentrail.reports.calldetail import call_detail
from tokentrail.reports.waterfall import waterfall
from tokentrail.ui import params
from tokentrail.ui.pages.common import connection
from tokentrail.ui.params import BadParameter
from tokentrail.ui.render import page
from tokentrail.ui.waterfall import waterfall_svg

__all__ = ["ROUTES", "parse_span_id"]

_SPAN_ID: Final = re.compile(r"[0-9a-f]{16}")


def parse_span_id(text: str) -> str:
    """A span id: 16 hexadecimal characters, returned in lower case."""
    value = text.strip().lower()
    if not _SPAN_ID.fullmatch(value):
        raise BadParameter("span", f"{text!r} is not a span id (16 hexadecimal characters)")
    return value


def trace_page(request: Request) -> Response:
    trace_id = params.trace_id(request.path_params["trace_id"])
    span_text = request.query_params.get("span")
    span_id = parse_span_id(span_text) if span_text else None
    with connection(request) as conn:
        trace = waterfall(conn, trace_id)
        if trace is None:
            raise HTTPException(404, f"no span of trace {trace_id} is stored")
        detail = call_detail(conn, trace_id, span_id) if span_id else None
    if span_id and detail is None:
        raise HTTPException(404, f"span {span_id} of trace {trace_id} is not a stored LLM call")
    jaeger = request.app.state.settings.jaeger_url
    return page(
        request,
        "trace.html",
        active="",
        trace=trace,
        chart=waterfall_svg(trace, span_id),
        detail=detail,
        jaeger_link=f"{jaeger}/trace/{trace_id}" if jaeger else None,
    )


ROUTES: list[BaseRoute] = [Route("/traces/{trace_id}", trace_page)]
