from __future__ import annotations

from decimal import Decimal
from importlib import resources

from tokentrail.ui import render


def test_templates_and_static_files_are_package_data() -> None:
    root = resources.files("tokentrail.ui")
    for name in ("templates/base.html", "templates/error.html", "static/ui.css"):
        assert root.joinpath(name).is_file(), name


def test_formatters() -> None:
    assert render.money(Decimal("0.00123")) == "$0.0012"
    assert render.money(12.5) == "$12.50"
    assert render.money(None) == "—"
    assert (render.ms(850), render.ms(2350)) == ("850 ms", "2.35 s")
    assert render.pct(0.125) == "12.5%"


def test_query_keeps_the_filters_and_drops_the_page() -> None:
    current = {"model": "m", "page": "3", "range": "7d"}
    assert render.query(current, range="1h") == "?model=m&range=1h"
    assert render.query(current, model=None) == "?range=7d"
    assert render.query({"q": "<a&b>"}) == "?q=%3Ca%26b%3E"


def test_autoescape_is_on() -> None:
    env = render.environment()
    assert env.from_string("{{ x }}").render(x="<script>") == "&lt;script&gt;"
