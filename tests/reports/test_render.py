"""tokentrail.reports.render: how figures read in tables."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from tokentrail.reports import render


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("0"), "$0.0000"), (Decimal("0.00003"), "$0.000030"), (Decimal("1234.5"), "$1,234.5000")],
)
def test_cost_format_keeps_small_costs_visible(value: Decimal, text: str) -> None:
    assert render.fmt_cost(value) == text


def test_emit_formats_and_the_empty_notice(capsys: pytest.CaptureFixture[str]) -> None:
    columns = [render.Column("name", "name"), render.Column("cost", "cost", render.COST, right=True)]
    records = [{"name": "a", "cost": Decimal("0.5")}, {"name": "bb", "cost": None}]
    out = io.StringIO()
    render.emit(records, columns, "table", out)
    assert out.getvalue() == "name     cost\na     $0.5000\nbb          -\n"
    out = io.StringIO()
    render.emit(records, columns, "json", out)
    assert json.loads(out.getvalue()) == [{"name": "a", "cost": 0.5}, {"name": "bb", "cost": None}]
    out = io.StringIO()
    render.emit(records, columns, "csv", out)
    assert out.getvalue() == "name,cost\na,0.5\nbb,\n"

    render.compare([], "support", "table")
    assert capsys.readouterr() == ("", "no calls of prompt 'support' in this range\n")
    render.compare([], "support", "csv")
    assert capsys.readouterr().out.startswith("version,calls,")
