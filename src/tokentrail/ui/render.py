"""The Jinja2 environment (autoescape always on) and the formatters every template shares.

Templates and static files ship inside the package (`tokentrail/ui/templates`, `tokentrail/ui/static`).
`page()` renders a template with what the layout needs: the settings, the time range and the current query
string, so links keep their filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

__all__ = ["STATIC_DIR", "TEMPLATE_DIR", "environment", "ms", "money", "page", "pct", "query", "when"]

HERE: Final = Path(__file__).parent
TEMPLATE_DIR: Final = HERE / "templates"
STATIC_DIR: Final = HERE / "static"

NAV: Final = (
    ("overview", "/", "Overview"),
    ("calls", "/calls", "Calls"),
    ("failures", "/failures", "Failures"),
    ("prompts", "/prompts", "Prompts"),
    ("sessions", "/sessions", "Sessions"),
    ("users", "/users", "Users"),
)


def money(value: Decimal | float | None) -> str:
    """USD: four decimals under a dollar (LLM calls are cheap), two above; an em dash for unknown."""
    if value is None:
        return "—"
    amount = float(value)
    return f"${amount:,.4f}" if abs(amount) < 1 else f"${amount:,.2f}"


def ms(value: float | None) -> str:
    """A duration in milliseconds as people read it: `850 ms`, `2.35 s`."""
    if value is None:
        return "—"
    return f"{value:,.0f} ms" if value < 1000 else f"{value / 1000:,.2f} s"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def when(value: datetime | None) -> str:
    """A UTC time, to the second."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


_PAGE_PLACE: Final = frozenset({"page", "after", "before"})


def query(current: Mapping[str, str], **changes: object) -> str:
    """`?...`: the current query string with `changes` applied (a None value removes the name); the page number and
    the page cursor (`after`, `before`) are dropped unless given, so a new filter starts at page 1."""
    values = {k: v for k, v in current.items() if k not in _PAGE_PLACE}
    for name, value in changes.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = str(value)
    return "?" + urlencode(values) if values else "?"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, ms=ms, pct=pct, num=num, when=when)
    env.globals.update(query=query, nav=NAV)
    return env


_ENV: Environment | None = None


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """`template` rendered for `request` with the layout's context (`settings`, `params`, `active`)."""
    global _ENV
    if _ENV is None:
        _ENV = environment()
    settings = getattr(request.app.state, "settings", None)
    html = _ENV.get_template(template).render(
        request=request,
        settings=settings,
        params=dict(request.query_params),
        active=context.pop("active", ""),
        refresh=context.pop("refresh", None),
        window=context.pop("window", None),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
