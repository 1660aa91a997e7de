"""tokentrail.reports.formats: how figures read in tables, JSON and CSV."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tokentrail.reports import formats


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("0"), "$0.0000"), (Decimal("0.00003"), "$0.000030"), (Decimal("1234.5"), "$1,234.5000")],
)
def test_cost_format_keeps_small_costs_visible(value: Decimal, text: str) -> None:
    assert formats.fmt_cost(value) == text


def test_emit_as_a_table_json_and_csv() -> None:
    columns = [formats.Column("name", "name"), formats.Column("cost", "cost", formats.COST, right=True)]
    records = [{"name": "a", "cost": Decimal("0.5")}, {"name": "bb", "cost": None}]
    out = io.StringIO()
    formats.emit(records, columns, "table", out)
    assert out.getvalue() == "name     cost\na     $0.5000\nbb          -\n"
    out = io.StringIO()
    formats.emit(records, columns, "json", out)
    assert json.loads(out.getvalue()) == [{"name": "a", "cost": 0.5}, {"name": "bb", "cost": None}]
    out = io.StringIO()
    formats.emit(records, columns, "csv", out)
    assert out.getvalue() == "name,cost\na,0.5\nbb,\n"


def test_an_empty_table_is_a_notice_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    formats.emit_or_notice([], [formats.Column("name", "name")], "table", "calls match", None)
    assert capsys.readouterr() == ("", "no calls match\n")
    formats.emit_or_notice([], [formats.Column("name", "name")], "csv", "calls match", None)
    assert capsys.readouterr().out == "name\n"


def test_values_clipped_dashed_and_plain() -> None:
    assert formats.clip(6)("a  long\nvalue") == "a lon…"
    assert formats.dash(str)(None) == "-"
    assert formats.fmt_ms(1500) == "1.50s"
    moment = datetime(2026, 12, 3, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert formats.plain(moment) == "2026-12-03T09:00:00+00:00"
    assert formats.plain(Decimal("0.25")) == 0.25
