"""tokentrail.ui.waterfall: bars to scale, LLM rows as links, every name escaped."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

from tokentrail.reports.trace import LlmInfo
from tokentrail.reports.waterfall import Waterfall, WaterfallRow
from tokentrail.ui.waterfall import LABEL_W, WIDTH, waterfall_svg


def _row(span: str, name: str, offset: float, duration: float, llm: bool = False, depth: int = 0) -> WaterfallRow:
    info = LlmInfo("chat", "m", 1, 1, Decimal(0), "ok", None) if llm else None
    category = "llm" if llm else "server"
    return WaterfallRow(span, None, name, depth, offset, duration, category, 0, None, "api", False, info)


def test_bars_are_to_scale_llm_rows_link_and_names_are_escaped() -> None:
    rows = (
        _row("a" * 16, "<script>alert(1)</script>", 0.0, 1000.0),
        _row("b" * 16, 'chat "><img src=x>', 500.0, 250.0, llm=True, depth=1),
    )
    trace = Waterfall("f" * 32, datetime(2026, 1, 1, tzinfo=timezone.utc), 1000.0, rows, 1, 0, 1, 1, Decimal(0))
    svg = str(waterfall_svg(trace, selected="b" * 16))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "<img" not in svg
    plot_w = WIDTH - LABEL_W - 90
    bars = [
        (float(x), float(w)) for x, w in re.findall(r'class="wf-bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    ]
    assert bars[0] == (LABEL_W, plot_w)
    assert bars[1][0] == LABEL_W + plot_w / 2
    assert abs(bars[1][1] - plot_w / 4) < 0.1
    assert svg.count("<a ") == 1
    assert f'href="?span={"b" * 16}"' in svg
    assert "wf-selected" in svg
