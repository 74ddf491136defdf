"""The results page's charts as inline SVG: each variant's value with its interval, and
exposures over time. The numbers come from the results service; the page's tables repeat them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from markupsafe import Markup

from flagyard.api.console.charts import PALETTE

WIDTH = 600
LABEL_WIDTH = 130  # left margin for variant names
ROW = 34


def _scale(low: float, high: float, left: float, right: float) -> Callable[[float], float]:
    if high - low < 1e-12:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    span = high - low
    return lambda value: left + (value - low) / span * (right - left)


def _short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def variant_values(variants: Sequence[Mapping[str, Any]], control: str | None,
                   fmt: Callable[[float], str], title: str) -> Markup:
    """One row per variant: a dot at its value and, for each treatment, a bar spanning the 95 %
    interval of its difference from control drawn around its value; control's value is the
    dashed line, so a bar that crosses the line is a difference chance could explain."""
    shown = [v for v in variants if v.get("value") is not None]
    if not shown:
        return Markup("")
    reference = next((v["value"] for v in shown if v["key"] == control), None)
    ends: list[float] = []
    for v in shown:
        ends.append(v["value"])
        if v.get("ci95") and reference is not None:
            ends += [reference + v["ci95"][0], reference + v["ci95"][1]]
    low, high = min(ends), max(ends)
    pad = (high - low) * 0.08
    x = _scale(low - pad, high + pad, LABEL_WIDTH, WIDTH - 20)
    height = 30 + ROW * len(variants) + 24
    parts: list[str] = []
    described: list[str] = []
    for index, v in enumerate(variants):
        y = 30 + ROW * index + ROW / 2
        colour = PALETTE[index % len(PALETTE)]
        name = escape(_short(str(v["key"])))
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{y + 4:.1f}" text-anchor="end">{name}</text>')
        if v.get("value") is None:
            parts.append(f'<text x="{LABEL_WIDTH}" y="{y + 4:.1f}" class="chart-muted">no exposures yet</text>')
            described.append(f"{v['key']} no exposures")
            continue
        value = float(v["value"])
        text = f"{v['key']}: {fmt(value)}"
        if v.get("ci95") and reference is not None:
            a, b = reference + v["ci95"][0], reference + v["ci95"][1]
            parts.append(
                f'<line x1="{x(a):.1f}" y1="{y:.1f}" x2="{x(b):.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="3"/>'
                f'<line x1="{x(a):.1f}" y1="{y - 7:.1f}" x2="{x(a):.1f}" y2="{y + 7:.1f}" stroke="{colour}" stroke-width="2"/>'
                f'<line x1="{x(b):.1f}" y1="{y - 7:.1f}" x2="{x(b):.1f}" y2="{y + 7:.1f}" stroke="{colour}" stroke-width="2"/>')
            text += f" (interval {fmt(a)} to {fmt(b)})"
        parts.append(f'<circle cx="{x(value):.1f}" cy="{y:.1f}" r="5.5" fill="{colour}">'
                     f'<title>{escape(text)}</title></circle>')
        described.append(text)
    if reference is not None:
        rx = x(reference)
        parts.insert(0, f'<line x1="{rx:.1f}" y1="22" x2="{rx:.1f}" y2="{height - 22}" stroke="#64748b" '
                        f'stroke-dasharray="4 3"/>'
                        f'<text x="{rx:.1f}" y="14" text-anchor="middle" class="chart-muted">'
                        f'control {escape(fmt(reference))}</text>')
    axis_y = height - 22
    parts.append(f'<line x1="{LABEL_WIDTH}" y1="{axis_y + .5}" x2="{WIDTH - 20}" y2="{axis_y + .5}" stroke="#94a3b8"/>'
                 f'<text x="{LABEL_WIDTH}" y="{axis_y + 16}">{escape(fmt(low - pad))}</text>'
                 f'<text x="{WIDTH - 20}" y="{axis_y + 16}" text-anchor="end">{escape(fmt(high + pad))}</text>')
    label = f"{title}: " + "; ".join(described)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>" + "".join(parts) + "</svg>"
    )


def exposures_over_time(points: Sequence[Mapping[str, Any]], variants: Sequence[str],
                        title: str = "Exposed users over time") -> Markup:
    """Cumulative exposed users per variant, one line each, oldest left."""
    if not points:
        return Markup("")
    top = max((max(p["cumulative"].values(), default=0) for p in points), default=0) or 1
    left, right, plot_top, bottom = 44, WIDTH - 10, 10, 130
    step = (right - left) / max(len(points) - 1, 1)
    parts = [f'<line x1="{left}" y1="{bottom + .5}" x2="{right}" y2="{bottom + .5}" stroke="#94a3b8"/>',
             f'<text x="{left - 6}" y="{plot_top + 8}" text-anchor="end">{top}</text>',
             f'<text x="{left - 6}" y="{bottom}" text-anchor="end">0</text>']

    def at(index: int, n: int) -> tuple[float, float]:
        px = left + index * step if len(points) > 1 else (left + right) / 2
        return px, bottom - (bottom - plot_top) * n / top

    for number, key in enumerate(variants):
        colour = PALETTE[number % len(PALETTE)]
        coords = [at(i, int(p["cumulative"].get(key, 0))) for i, p in enumerate(points)]
        if len(coords) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for (px, py), p in zip(coords, points, strict=True):
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"><title>'
                         f'{escape(key)} {escape(p["start"])}: {p["cumulative"].get(key, 0)}</title></circle>')
    legend_y = bottom + 38
    for number, key in enumerate(variants):
        colour = PALETTE[number % len(PALETTE)]
        parts.append(f'<g transform="translate({left + (number % 4) * 140},{legend_y + (number // 4) * 18})">'
                     f'<rect width="12" height="12" fill="{colour}"/>'
                     f'<text x="16" y="11">{escape(_short(key))}</text></g>')
    first, last = (p["start"][:16].replace("T", " ") for p in (points[0], points[-1]))
    parts.append(f'<text x="{left}" y="{bottom + 16}">{escape(first)}</text>')
    if len(points) > 1:
        parts.append(f'<text x="{right}" y="{bottom + 16}" text-anchor="end">{escape(last)}</text>')
    height = legend_y + 18 * ((len(variants) + 3) // 4) + 4
    totals = ", ".join(f"{key} {points[-1]['cumulative'].get(key, 0)}" for key in variants)
    label = escape(f"{title}, from {first} to {last}: {totals}")
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{label}">'
        f"<title>{label}</title>" + "".join(parts) + "</svg>"
    )
