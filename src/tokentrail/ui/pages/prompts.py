"""Prompt versions: the prompts seen in the range, and for one of them an A/B table and charts per version
(calls, success rate, p50/p95 latency, mean cost, mean output tokens) from `queries.compare_prompts`."""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tokentrail.reports import rollupprompts
from tokentrail.reports.callfilter import parse_prompt
from tokentrail.ui import charts
from tokentrail.ui.pages.common import connection, selection
from tokentrail.ui.params import BadParameter
from tokentrail.ui.render import money, ms, num, pct

__all__ = ["ROUTES"]


def prompts(request: Request) -> Response:
    from tokentrail.ui.render import page

    window, where = selection(request)
    name = (request.query_params.get("name") or "").strip() or None
    versions = [v.strip() for v in (request.query_params.get("versions") or "").split(",") if v.strip()]
    if name is not None:
        try:
            if parse_prompt(name)[1] is not None:
                raise ValueError(f"{name!r} names a version: give the prompt name, and versions=v1,v2")
        except ValueError as exc:
            raise BadParameter("name", str(exc)) from None
    with connection(request) as conn:
        names = rollupprompts.prompt_names(conn, where)
        if name is None and names:
            name = names[0].name
        rows = rollupprompts.compare_prompts(conn, name, versions or None, window.since, window.until) if name else []

    labels = [r.version or "(none)" for r in rows]

    def bars(title: str, values: list[float | None], fmt: Callable[[float], str]) -> Markup:
        return charts.hbars(title, [(v, float(x or 0)) for v, x in zip(labels, values, strict=True)], fmt)

    return page(
        request,
        "prompts.html",
        active="prompts",
        window=window,
        names=names,
        name=name,
        versions=",".join(versions),
        rows=rows,
        charts=[
            bars("Calls", [r.calls for r in rows], num),
            bars("Success rate", [r.success_rate for r in rows], pct),
            bars("p95 latency", [r.latency_p95_ms for r in rows], ms),
            bars("Mean cost", [float(r.mean_cost_usd) if r.mean_cost_usd is not None else None for r in rows], money),
            bars("Mean output tokens", [r.mean_output_tokens for r in rows], num),
        ]
        if rows
        else [],
    )


ROUTES: list[BaseRoute] = [Route("/prompts", prompts)]
