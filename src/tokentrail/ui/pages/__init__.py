"""The pages, one module each; `ROUTES` is the UI's route table (the static files are mounted by `app`)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from tokentrail.ui.pages import calls, failures, overview, people, prompts, trace

__all__ = ["ROUTES"]

ROUTES: list[BaseRoute] = [
    *overview.ROUTES,
    *calls.ROUTES,
    *failures.ROUTES,
    *prompts.ROUTES,
    *trace.ROUTES,
    *people.ROUTES,
]
