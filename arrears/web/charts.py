"""Tiny SVG charts made on the server: bars (optionally links) and a line. No script, no inline
styles (the UI's CSP forbids them): colours come from classes in app.css. Every text placed in the
SVG is escaped here, and every chart carries a title and a description for screen readers, plus a
<title> per bar or point that shows as a tooltip."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

_ids = itertools.count(1)


@dataclass(frozen=True)
class Datum:
    label: str
    value: Decimal | int | float
    href: str | None = None
    display: str | None = None  # the value as text (money, count); str(value) when None


def _num(v: Decimal | int | float) -> float:
    return float(v)


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** (len(str(int(v))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * exp >= v:
            return step * exp
    return 10 * exp


def _text(x: float, y: float, s: str, cls: str, anchor: str = "middle") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}">{escape(s)}</text>'


def _open_svg(data: Sequence[Datum], title: str, width: int, height: int, css_class: str) -> list[str]:
    """The chart's <svg> element with its accessible title and a text description of every datum."""
    uid = f"chart{next(_ids)}"
    desc = "; ".join(f"{d.label}: {d.display or d.value}" for d in data) or "no data"
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart {css_class}" '
            f'role="img" aria-labelledby="{uid}t {uid}d" preserveAspectRatio="xMidYMid meet">',
            f'<title id="{uid}t">{escape(title)}</title><desc id="{uid}d">{escape(desc)}</desc>']


def _empty(out: list[str], width: int, height: int) -> str:
    out.append(_text(width / 2, height / 2, "No data yet", "chart-empty"))
    out.append("</svg>")
    return "".join(out)


def bar_chart(data: Sequence[Datum], *, title: str, width: int = 560, height: int = 240,
              css_class: str = "chart-bars") -> str:
    """Vertical bars with labels under them and values above them."""
    out = _open_svg(data, title, width, height, css_class)
    if not data:
        return _empty(out, width, height)
    top, bottom, left, right = 22, 34, 8, 8
    plot_h = height - top - bottom
    plot_w = width - left - right
    peak = _nice_max(max(_num(d.value) for d in data))
    slot = plot_w / len(data)
    bar_w = max(6.0, min(64.0, slot * 0.62))
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" class="chart-axis"/>')
    for i, d in enumerate(data):
        v = max(0.0, _num(d.value))
        h = plot_h * v / peak
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h - h
        shown = d.display if d.display is not None else str(d.value)
        bar = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{max(h, 1.0):.1f}" '
               f'class="chart-bar chart-bar-{i % 8}"><title>{escape(d.label)}: {escape(shown)}</title></rect>')
        if d.href:
            bar = f'<a href="{escape(d.href)}" aria-label="{escape(d.label)}: {escape(shown)}">{bar}</a>'
        out.append(bar)
        out.append(_text(x + bar_w / 2, y - 6, shown, "chart-value"))
        out.append(_text(left + slot * i + slot / 2, height - 12, d.label, "chart-label"))
    out.append("</svg>")
    return "".join(out)


def line_chart(data: Sequence[Datum], *, title: str, width: int = 560, height: int = 200,
               css_class: str = "chart-line") -> str:
    """A line through the points, with a dot (and tooltip) per point."""
    out = _open_svg(data, title, width, height, css_class)
    if not data:
        return _empty(out, width, height)
    top, bottom, left, right = 20, 34, 16, 16
    plot_h = height - top - bottom
    plot_w = width - left - right
    values = [_num(d.value) for d in data]
    peak = _nice_max(max(values) if values else 0)
    low = min(0.0, min(values))
    span = (peak - low) or 1.0
    step = plot_w / max(1, len(data) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (step * i if len(data) > 1 else plot_w / 2)
        return x, top + plot_h - plot_h * (v - low) / span

    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" class="chart-axis"/>')
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(values)))
    out.append(f'<polyline points="{points}" class="chart-path" fill="none"/>')
    label_every = max(1, len(data) // 8)
    for i, d in enumerate(data):
        x, y = xy(i, values[i])
        shown = d.display if d.display is not None else str(d.value)
        dot = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="chart-dot"><title>{escape(d.label)}: {escape(shown)}</title></circle>'
        if d.href:
            dot = f'<a href="{escape(d.href)}" aria-label="{escape(d.label)}: {escape(shown)}">{dot}</a>'
        out.append(dot)
        if i % label_every == 0 or i == len(data) - 1:
            out.append(_text(x, height - 12, d.label, "chart-label"))
    out.append("</svg>")
    return "".join(out)
