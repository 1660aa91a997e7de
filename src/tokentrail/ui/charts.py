"""Inline SVG charts, drawn server-side: stacked bars over time, lines over time, horizontal bars.

Each function returns markup (`markupsafe.Markup`) to place in a page; every label and title passes through
`markupsafe.escape`, so a hostile model or user name is text. No script and no external reference: the CSP's
`img-src 'self' data:` and `default-src 'none'` hold. Colours come from a fixed palette by series order
(SVG fill attributes; legend swatches by class `c<n>` in ui.css, as the CSP forbids inline styles).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from markupsafe import Markup, escape

__all__ = ["PALETTE", "Series", "hbars", "lines", "stacked_bars", "time_labels"]

PALETTE: Final = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
WIDTH: Final = 720
HEIGHT: Final = 220
_PAD_LEFT: Final = 64
_PAD_BOTTOM: Final = 28
_PAD_TOP: Final = 10
_PAD_RIGHT: Final = 12


@dataclass(frozen=True)
class Series:
    """One named series: a value per bucket (the same buckets for every series of a chart)."""

    name: str
    values: Sequence[float]


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _empty(title: str) -> Markup:
    return Markup('<p class="chart-empty">{} — no data in this range</p>').format(title)


def _axis(top: float, fmt: Callable[[float], str], labels: Sequence[str], plot_w: float, plot_h: float) -> str:
    parts = []
    for frac in (0.0, 0.5, 1.0):
        y = _PAD_TOP + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{_PAD_LEFT}" y1="{y:.1f}" x2="{_PAD_LEFT + plot_w:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(top * frac))}</text>'
        )
    count = len(labels)
    if count:
        for index in sorted({0, count // 2, count - 1}):
            x = _PAD_LEFT + plot_w * (index + 0.5) / count
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(labels[index])}</text>'
            )
    return "".join(parts)


def _legend(names: Sequence[str]) -> Markup:
    items = Markup("").join(
        Markup('<li><span class="swatch c{}"></span>{}</li>').format(i % len(PALETTE), name)
        for i, name in enumerate(names)
    )
    return Markup('<ul class="legend">{}</ul>').format(items)


def _svg(title: str, body: str, legend: Sequence[str]) -> Markup:
    svg = Markup(
        '<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{title}</title>'
    ).format(w=WIDTH, h=HEIGHT, title=title)
    return (
        Markup('<figure class="chart-box"><figcaption>{}</figcaption>').format(title)
        + svg
        + Markup(body)  # built from numbers and escaped labels only
        + Markup("</svg>")
        + (_legend(legend) if legend else Markup(""))
        + Markup("</figure>")
    )


def stacked_bars(
    title: str, labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str] = "{:g}".format
) -> Markup:
    """Bars per bucket (`labels`, e.g. times), each stacked from `series` in order; a tooltip per segment."""
    if not labels or not series or not any(v for s in series for v in s.values):
        return _empty(title)
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = max(totals) or 1.0
    plot_w, plot_h = WIDTH - _PAD_LEFT - _PAD_RIGHT, HEIGHT - _PAD_TOP - _PAD_BOTTOM
    slot = plot_w / len(labels)
    bar_w = max(slot * 0.8, 1.0)
    parts = [_axis(top, fmt, labels, plot_w, plot_h)]
    for i, label in enumerate(labels):
        base = 0.0
        for index, one in enumerate(series):
            value = one.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y = _PAD_TOP + plot_h * (1 - (base + value) / top)
            x = _PAD_LEFT + slot * i + (slot - bar_w) / 2
            tip = escape(f"{one.name} · {label}: {fmt(value)}")
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{_colour(index)}"><title>{tip}</title></rect>'
            )
            base += value
    return _svg(title, "".join(parts), [s.name for s in series])


def lines(
    title: str, labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str] = "{:g}".format
) -> Markup:
    """One polyline per series over the buckets, with a dot (and tooltip) per point."""
    if not labels or not series or not any(v for s in series for v in s.values):
        return _empty(title)
    top = max(v for s in series for v in s.values) or 1.0
    plot_w, plot_h = WIDTH - _PAD_LEFT - _PAD_RIGHT, HEIGHT - _PAD_TOP - _PAD_BOTTOM
    slot = plot_w / len(labels)
    parts = [_axis(top, fmt, labels, plot_w, plot_h)]
    for index, one in enumerate(series):
        points = [
            (_PAD_LEFT + slot * (i + 0.5), _PAD_TOP + plot_h * (1 - value / top)) for i, value in enumerate(one.values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline class="line" fill="none" stroke="{_colour(index)}" points="{path}"/>')
        for (x, y), label, value in zip(points, labels, one.values, strict=False):
            tip = escape(f"{one.name} · {label}: {fmt(value)}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{_colour(index)}"><title>{tip}</title></circle>'
            )
    return _svg(title, "".join(parts), [s.name for s in series])


def hbars(title: str, items: Sequence[tuple[str, float]], fmt: Callable[[float], str] = "{:g}".format) -> Markup:
    """One horizontal bar per (label, value), longest first as given, the value printed after it."""
    if not items or not any(value for _, value in items):
        return _empty(title)
    row_h, label_w, value_w = 22, 200, 90
    height = row_h * len(items) + 8
    top = max(value for _, value in items) or 1.0
    plot_w = WIDTH - label_w - value_w
    parts = []
    for i, (label, value) in enumerate(items):
        y = 4 + i * row_h
        w = max(plot_w * value / top, 1.0) if value > 0 else 0.0
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(
            f'<text class="tick" x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(short)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{_colour(0)}">'
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 15}">{escape(fmt(value))}</text>'
        )
    svg = Markup(
        '<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{title}</title>'
    ).format(w=WIDTH, h=height, title=title)
    return (
        Markup('<figure class="chart-box"><figcaption>{}</figcaption>').format(title)
        + svg
        + Markup("".join(parts))
        + Markup("</svg></figure>")
    )


def time_labels(buckets: Sequence[datetime], with_date: bool) -> list[str]:
    """Bucket starts as axis labels (UTC): `HH:MM`, or `MM-DD HH:MM` over ranges longer than a day."""
    return [b.strftime("%m-%d %H:%M" if with_date else "%H:%M") for b in buckets]
