"""Inline SVG charts built from numbers only (labels are escaped): no JS, no network."""

from __future__ import annotations

import math
from html import escape

from markupsafe import Markup


def rate_bar(rate: float | None, low: float | None, high: float | None, scale: float) -> Markup:
    """A horizontal bar for a rate with its interval as a whisker; `scale` is the axis maximum."""
    width, height = 160, 14
    if rate is None or scale <= 0:
        return Markup("")
    x = lambda v: 1 + (width - 2) * min(max(v / scale, 0.0), 1.0)  # noqa: E731
    return Markup(
        f'<svg class="bar" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="rate {rate:.1%}, interval {low:.1%} to {high:.1%}">'
        f'<rect x="1" y="3" width="{x(rate) - 1:.1f}" height="8" class="bar-fill"/>'
        f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="7" y2="7" class="whisker"/>'
        f'<line x1="{x(low):.1f}" x2="{x(low):.1f}" y1="3" y2="11" class="whisker"/>'
        f'<line x1="{x(high):.1f}" x2="{x(high):.1f}" y1="3" y2="11" class="whisker"/>'
        "</svg>"
    )


def forest_plot(rows: list[dict], title: str) -> Markup:
    """Rate ratios (log scale) with intervals, one row per population; 1 marks no difference."""
    rows = [r for r in rows if r.get("rate_ratio") and r.get("rr_low") and r.get("rr_high")]
    if not rows:
        return Markup("")
    label_w, plot_w, row_h, top = 230, 360, 22, 26
    lows = [max(r["rr_low"], 1e-3) for r in rows]
    highs = [max(r["rr_high"], 1e-3) for r in rows]
    lo = math.log(min(min(lows), 0.5))
    hi = math.log(max(max(highs), 2.0))
    x = lambda v: label_w + plot_w * (math.log(max(v, 1e-3)) - lo) / (hi - lo)  # noqa: E731
    height = top + row_h * len(rows) + 24
    parts = [
        f'<svg class="forest" width="{label_w + plot_w + 20}" height="{height}" '
        f'viewBox="0 0 {label_w + plot_w + 20} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{x(1):.1f}" x2="{x(1):.1f}" y1="{top - 6}" y2="{height - 20}" class="ref"/>',
        f'<text x="{x(1):.1f}" y="{top - 10}" class="axis" text-anchor="middle">1 (no difference)</text>',
    ]
    for tick in (0.25, 0.5, 2, 4, 8, 16):
        if lo <= math.log(tick) <= hi:
            parts.append(f'<text x="{x(tick):.1f}" y="{height - 6}" class="axis" '
                         f'text-anchor="middle">{tick:g}x</text>')
    for i, r in enumerate(rows):
        y = top + i * row_h + row_h / 2
        css = "sig" if r.get("significant") else "nonsig"
        parts.append(f'<text x="{label_w - 8}" y="{y + 4:.1f}" class="label" '
                     f'text-anchor="end">{escape(r["label"])}</text>')
        parts.append(f'<line x1="{x(r["rr_low"]):.1f}" x2="{x(r["rr_high"]):.1f}" '
                     f'y1="{y:.1f}" y2="{y:.1f}" class="ci {css}"/>')
        parts.append(f'<circle cx="{x(r["rate_ratio"]):.1f}" cy="{y:.1f}" r="4" class="pt {css}">'
                     f'<title>{escape(r["label"])}: {r["rate_ratio"]:.2f}x '
                     f'({r["rr_low"]:.2f}-{r["rr_high"]:.2f})</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def sweep_chart(points: list[dict], title: str) -> Markup:
    """Rate ratio (log scale) against the score threshold, with its interval as a band."""
    points = [p for p in points if p.get("rate_ratio") and p.get("rr_low") and p.get("rr_high")]
    if len(points) < 2:
        return Markup("")
    width, height, left, bottom, top = 230, 130, 34, 22, 18
    xs = [p["threshold"] for p in points]
    lo = math.log(min(min(p["rr_low"] for p in points), 0.5))
    hi = math.log(max(max(p["rr_high"] for p in points), 2.0))
    x = lambda t: left + (width - left - 6) * (t - min(xs)) / (max(xs) - min(xs))  # noqa: E731
    y = lambda v: top + (height - top - bottom) * (hi - math.log(max(v, 1e-3))) / (hi - lo)  # noqa: E731
    band = " ".join(f"{x(p['threshold']):.1f},{y(p['rr_high']):.1f}" for p in points)
    band += " " + " ".join(f"{x(p['threshold']):.1f},{y(p['rr_low']):.1f}" for p in reversed(points))
    line = " ".join(f"{x(p['threshold']):.1f},{y(p['rate_ratio']):.1f}" for p in points)
    anchors = {0.1: "start", 0.5: "middle", 0.9: "end"}
    ticks = "".join(
        f'<text x="{x(t):.1f}" y="{height - 6}" class="axis" text-anchor="{anchor}">{t:g}</text>'
        for t, anchor in anchors.items() if min(xs) <= t <= max(xs)
    )
    return Markup(
        f'<svg class="sweep" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<text x="{left}" y="12" class="label">{escape(title)}</text>'
        f'<polygon points="{band}" class="band"/>'
        f'<line x1="{left}" x2="{width - 6}" y1="{y(1):.1f}" y2="{y(1):.1f}" class="ref"/>'
        f'<text x="{left - 4}" y="{y(1) + 4:.1f}" class="axis" text-anchor="end">1x</text>'
        f'<polyline points="{line}" class="line"/>{ticks}</svg>'
    )
