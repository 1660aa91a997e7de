"""A trace's waterfall as inline SVG: one row per span, its bar placed and sized to scale on the trace's time line.

SVG rather than HTML bars because the CSP allows no inline styles, while SVG geometry is attributes. Every name
passes through `markupsafe.escape`; an LLM span's row is a link (`?span=<id>`, no script) that opens its call.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from markupsafe import Markup, escape

from tokentrail.reports.waterfall import Waterfall, WaterfallRow
from tokentrail.ui.render import ms

__all__ = ["waterfall_svg"]

WIDTH: Final = 1200
ROW_H: Final = 22
LABEL_W: Final = 380
INDENT: Final = 14
AXIS_H: Final = 22
COLOURS: Final = {
    "llm": "#4e79a7",
    "server": "#59a14f",
    "workflow": "#b07aa1",
    "tool": "#f28e2b",
    "agent": "#edc948",
    "client": "#76b7b2",
    "internal": "#9c9c9c",
}
ERROR_COLOUR: Final = "#cf222e"


def _label(row: WaterfallRow) -> str:
    name = row.name if len(row.name) <= 48 else row.name[:47] + "…"
    return ("↳ " if row.orphan else "") + name


def _row(row: WaterfallRow, index: int, wall_ms: float, selected: str | None) -> str:
    plot_w = WIDTH - LABEL_W - 90
    y = AXIS_H + index * ROW_H
    x = LABEL_W + plot_w * (row.offset_ms / wall_ms if wall_ms > 0 else 0.0)
    w = max(plot_w * (row.duration_ms / wall_ms if wall_ms > 0 else 1.0), 2.0)
    colour = ERROR_COLOUR if row.status_code == 2 else COLOURS[row.category]
    tip = escape(f"{row.name} · {row.category} · {ms(row.duration_ms)} at +{ms(row.offset_ms)}")
    classes = f"wf-row wf-{row.category}" + (" wf-selected" if row.span_id == selected else "")
    body = (
        f'<rect class="wf-band" x="0" y="{y}" width="{WIDTH}" height="{ROW_H}"/>'
        f'<text class="wf-name" x="{6 + row.depth * INDENT}" y="{y + 15}">{escape(_label(row))}</text>'
        f'<rect class="wf-bar" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{ROW_H - 8}" fill="{colour}"/>'
        f'<text class="wf-time" x="{min(x + w + 4, WIDTH - 86):.1f}" y="{y + 15}">{escape(ms(row.duration_ms))}</text>'
        f"<title>{tip}</title>"
    )
    span = escape(row.span_id)
    if row.llm is not None:
        href = "?span=" + quote(row.span_id, safe="")
        return f'<a class="{classes}" id="span-{span}" href="{escape(href)}" data-span="{span}">{body}</a>'
    return f'<g class="{classes}" id="span-{span}" data-span="{span}">{body}</g>'


def waterfall_svg(trace: Waterfall, selected: str | None = None) -> Markup:
    """The waterfall of `trace`; the row of `selected` (a span id) is highlighted."""
    height = AXIS_H + ROW_H * len(trace.rows) + 4
    plot_w = WIDTH - LABEL_W - 90
    ticks = []
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = LABEL_W + plot_w * frac
        ticks.append(
            f'<line class="grid" x1="{x:.1f}" y1="{AXIS_H - 4}" x2="{x:.1f}" y2="{height}"/>'
            f'<text class="tick" x="{x:.1f}" y="14" text-anchor="middle">{escape(ms(trace.wall_ms * frac))}</text>'
        )
    rows = "".join(_row(row, i, trace.wall_ms, selected) for i, row in enumerate(trace.rows))
    return Markup(
        f'<svg class="waterfall" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(f"Waterfall of trace {trace.trace_id}")}</title>'
        f"{''.join(ticks)}{rows}</svg>"
    )
