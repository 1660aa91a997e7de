"""The pages, one module each; `ROUTES` is the UI's route table (the static files are mounted by `app`)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from tokentrail.ui.pages import overview, people, trace

__all__ = ["ROUTES"]

ROUTES: list[BaseRoute] = [
    *overview.ROUTES,
    *trace.ROUTES,
    *people.ROUTES,
]
