"""tokentrail.reports.render: the reports (their values and tables: tests/reports/test_formats.py)."""

from __future__ import annotations

import pytest

from tokentrail.reports import render


def test_an_empty_compare_is_a_notice_or_a_header(capsys: pytest.CaptureFixture[str]) -> None:
    render.compare([], "support", "table")
    assert capsys.readouterr() == ("", "no calls of prompt 'support' in this range\n")
    render.compare([], "support", "csv")
    assert capsys.readouterr().out.startswith("version,calls,")
