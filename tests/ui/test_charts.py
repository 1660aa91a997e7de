from __future__ import annotations

import xml.etree.ElementTree as ET

from tokentrail.ui.charts import Series, hbars, lines, stacked_bars

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def _svg(markup: str) -> ET.Element:
    start, end = markup.index("<svg"), markup.index("</svg>") + len("</svg>")
    return ET.fromstring(markup[start:end])


def test_stacked_bars_stack_each_series_per_bucket() -> None:
    chart = stacked_bars("Cost", ["00:00", "01:00"], [Series("a", [1.0, 0.0]), Series("b", [3.0, 2.0])])
    rects = _svg(chart).findall(f"{SVG}rect")
    assert len(rects) == 3  # a zero value draws nothing
    heights = sorted(float(r.get("height", "0")) for r in rects)
    assert heights[-1] == 3 * heights[0]  # b's 3 against a's 1, on one scale
    assert "Cost" in chart
    assert chart.count('class="swatch c') == 2


def test_lines_draw_a_polyline_per_series_and_a_dot_per_point() -> None:
    root = _svg(lines("Latency", ["a", "b", "c"], [Series("p50", [1, 2, 3]), Series("p95", [2, 4, 6])]))
    assert len(root.findall(f"{SVG}polyline")) == 2
    assert len(root.findall(f"{SVG}circle")) == 6


def test_hbars_one_bar_per_item_with_its_value() -> None:
    root = _svg(hbars("Top users", [("u1", 4.0), ("u2", 1.0)], "${:.2f}".format))
    rects = root.findall(f"{SVG}rect")
    assert len(rects) == 2
    assert float(rects[0].get("width", "0")) > float(rects[1].get("width", "0"))
    assert "$4.00" in "".join(root.itertext())


def test_no_data_is_a_note_not_an_empty_chart() -> None:
    assert "<svg" not in stacked_bars("Cost", ["a"], [Series("x", [0.0])])
    assert "no data" in lines("L", [], [])
    assert "no data" in hbars("H", [])


def test_labels_and_titles_are_escaped() -> None:
    for chart in (
        stacked_bars(HOSTILE, [HOSTILE], [Series(HOSTILE, [1.0])]),
        lines(HOSTILE, [HOSTILE], [Series(HOSTILE, [1.0])]),
        hbars(HOSTILE, [(HOSTILE, 1.0)]),
    ):
        assert "<script" not in chart
        assert "<img" not in chart
        assert "&lt;script&gt;" in chart
        _svg(chart)  # still well-formed


def test_the_stylesheet_colours_every_legend_swatch() -> None:
    from tokentrail.ui.charts import PALETTE
    from tokentrail.ui.render import STATIC_DIR

    css = (STATIC_DIR / "ui.css").read_text()
    for index, colour in enumerate(PALETTE):
        assert f".swatch.c{index} {{ background: {colour}; }}" in css
    assert "style=" not in stacked_bars("x", ["a"], [Series("s", [1.0])])  # the CSP blocks inline styles
